#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
// After the fused QKV projection, per token and head (spec 2.2-2.3): NeoX RoPE on q and k (dimension i pairs with
// i + d/2), then per-head RMSNorm of q and k (after RoPE, one weight per kind), then q to q_out and k, v appended to
// the f16 KV cache at the token's position. Grid: (heads + 2 * kv_heads, tokens); workgroup x: q heads, k heads, v heads.
// Angles are the fp32 product position * inv_freq (as the official code), reduced modulo 2 pi in two steps so
// cos/sin stay accurate at positions up to 262143.

layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Qkv { float qkv[]; };          // [tokens][(heads + 2 kv_heads) * d]
layout(std430, binding = 1) readonly buffer Freq { float inv_freq[]; };   // [d / 2], base^(-2i/d) rounded to fp32
layout(std430, binding = 2) readonly buffer Qn { float q_norm[]; };       // [d]
layout(std430, binding = 3) readonly buffer Kn { float k_norm[]; };       // [d]
layout(std430, binding = 4) writeonly buffer Qo { float q_out[]; };       // [tokens][heads * d]
layout(std430, binding = 5) writeonly buffer Kc { float16_t k_cache[]; }; // [positions][kv_heads * d]
layout(std430, binding = 6) writeonly buffer Vc { float16_t v_cache[]; }; // [positions][kv_heads * d]

layout(push_constant) uniform Push {
    uint heads;
    uint kv_heads;
    uint head_dim;
    uint position0;   // position of token 0 of this batch
    float eps;
    uint use_norm;
} p;

vec2 cos_sin(uint position, uint i)
{
    precise float angle = float(position) * inv_freq[i];
    precise float k = floor(angle * 0.15915494309189535 + 0.5);
    precise float r = (angle - k * 6.28125) - k * 0.0019353071795864769;   // 2 pi = 6.28125 + 0.00193530717958...
    return vec2(cos(r), sin(r));
}

void main()
{
    uint head = gl_WorkGroupID.x, token = gl_WorkGroupID.y;
    uint d = p.head_dim, half_d = d / 2;
    uint row = (p.heads + 2 * p.kv_heads) * d;
    uint src = token * row + head * d;
    uint position = p.position0 + token;

    if (head >= p.heads + p.kv_heads) {   // v: copied to the cache as it is
        uint kv = head - p.heads - p.kv_heads;
        for (uint i = gl_LocalInvocationID.x; i < d; i += gl_WorkGroupSize.x) {
            v_cache[position * p.kv_heads * d + kv * d + i] = float16_t(qkv[src + i]);
        }
        return;
    }

    bool is_q = head < p.heads;
    float sq = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < half_d; i += gl_WorkGroupSize.x) {
        vec2 cs = cos_sin(position, i);
        float a = qkv[src + i], b = qkv[src + i + half_d];
        float ra = a * cs.x - b * cs.y, rb = b * cs.x + a * cs.y;
        sq += ra * ra + rb * rb;
    }
    float scale = p.use_norm != 0 ? inversesqrt(workgroup_sum(sq) / float(d) + p.eps) : 1.0;

    for (uint i = gl_LocalInvocationID.x; i < half_d; i += gl_WorkGroupSize.x) {
        vec2 cs = cos_sin(position, i);
        float a = qkv[src + i], b = qkv[src + i + half_d];
        float ra = a * cs.x - b * cs.y, rb = b * cs.x + a * cs.y;
        if (is_q) {
            float w0 = p.use_norm != 0 ? q_norm[i] : 1.0, w1 = p.use_norm != 0 ? q_norm[i + half_d] : 1.0;
            uint dst = token * p.heads * d + head * d;
            q_out[dst + i] = ra * scale * w0;
            q_out[dst + i + half_d] = rb * scale * w1;
        } else {
            float w0 = p.use_norm != 0 ? k_norm[i] : 1.0, w1 = p.use_norm != 0 ? k_norm[i + half_d] : 1.0;
            uint dst = position * p.kv_heads * d + (head - p.heads) * d;
            k_cache[dst + i] = float16_t(ra * scale * w0);
            k_cache[dst + i + half_d] = float16_t(rb * scale * w1);
        }
    }
}
