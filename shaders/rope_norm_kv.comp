#version 450
#extension GL_GOOGLE_include_directive : require
// After the fused QKV projection, per token and head (docs/model.md 2.2-2.3): NeoX RoPE on q and k (dimension i pairs with
// i + d/2), then per-head RMSNorm of q and k (after RoPE, one weight per kind), then q to q_out and k, v appended to
// the KV cache at the token's position, in the cache's format (include/kv_cache.glsl: f16, or int8 with an f16 scale
// per block of 32 values, max |x| / 127, rounded to nearest even). Grid: (heads + 2 * kv_heads, tokens); workgroup x:
// q heads, k heads, v heads. One dispatch writes one page: its tokens are token0.. of the batch, at positions
// position0 + token. Angles are the fp32 product position * inv_freq (as the official code), reduced modulo 2 pi in
// two steps so cos/sin stay accurate at positions up to 262143.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint KV_Q8 = 0;
const uint HEAD_DIM = 256;   // the largest head dimension (the shared row); the push constant gives the real one
#include "common.glsl"
#include "kv_cache.glsl"

layout(std430, binding = 0) readonly buffer Qkv { float qkv[]; };          // [tokens][(heads + 2 kv_heads) * d]
layout(std430, binding = 1) readonly buffer Freq { float inv_freq[]; };   // [d / 2], base^(-2i/d) rounded to fp32
layout(std430, binding = 2) readonly buffer Qn { float q_norm[]; };       // [d]
layout(std430, binding = 3) readonly buffer Kn { float k_norm[]; };       // [d]
layout(std430, binding = 4) writeonly buffer Qo { float q_out[]; };       // [tokens][heads * d]
layout(std430, binding = 5) writeonly buffer Kc { uint k_cache[]; };      // one page (include/kv_cache.glsl)
layout(std430, binding = 6) writeonly buffer Vc { uint v_cache[]; };

layout(push_constant) uniform Push {
    uint heads;
    uint kv_heads;
    uint head_dim;
    uint position0;    // position of token 0 of the batch
    float eps;
    uint use_norm;
    uint token0;       // the batch's first token this dispatch writes (workgroup y = token - token0)
    uint page_start;   // position of the page's first row
    uint page_rows;    // positions the page holds (where its int8 scales start)
} p;

shared float s_row[HEAD_DIM];   // the k or v row before it is packed
shared float s_scale[HEAD_DIM / 32];

vec2 cos_sin(uint position, uint i)
{
    precise float angle = float(position) * inv_freq[i];
    precise float k = floor(angle * 0.15915494309189535 + 0.5);
    precise float r = (angle - k * 6.28125) - k * 0.0019353071795864769;   // 2 pi = 6.28125 + 0.00193530717958...
    return vec2(cos(r), sin(r));
}

void main()
{
    uint head = gl_WorkGroupID.x, token = p.token0 + gl_WorkGroupID.y;
    uint d = p.head_dim, half_d = d / 2;
    uint row = (p.heads + 2 * p.kv_heads) * d;
    uint src = token * row + head * d;
    uint position = p.position0 + token;
    bool is_q = head < p.heads, is_v = head >= p.heads + p.kv_heads;   // uniform in the workgroup

    if (is_v) {   // v: to the cache as it is
        for (uint i = gl_LocalInvocationID.x; i < d; i += gl_WorkGroupSize.x) {
            s_row[i] = qkv[src + i];
        }
    } else {
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
                s_row[i] = ra * scale * w0;
                s_row[i + half_d] = rb * scale * w1;
            }
        }
    }
    if (is_q) {
        return;
    }
    barrier();

    // Pack the row into the page: head row r of this position and kv head.
    uint kv = is_v ? head - p.heads - p.kv_heads : head - p.heads;
    uint r = (position - p.page_start) * p.kv_heads + kv;
    uint words = d / KV_VALUES_PER_WORD;
    if (KV_Q8 == 0) {
        for (uint w = gl_LocalInvocationID.x; w < words; w += gl_WorkGroupSize.x) {
            uint packed = packHalf2x16(vec2(s_row[2 * w], s_row[2 * w + 1]));
            if (is_v) {
                v_cache[r * words + w] = packed;
            } else {
                k_cache[r * words + w] = packed;
            }
        }
        return;
    }

    uint blocks = d / 32, scale_words = (blocks + 1) / 2;
    for (uint b = gl_LocalInvocationID.x; b < blocks; b += gl_WorkGroupSize.x) {
        float amax = 0.0;
        for (uint i = 0; i < 32; i++) {
            amax = max(amax, abs(s_row[32 * b + i]));
        }
        s_scale[b] = unpackHalf2x16(packHalf2x16(vec2(amax / 127.0, 0.0))).x;   // as the cache stores it
    }
    barrier();
    for (uint w = gl_LocalInvocationID.x; w < words; w += gl_WorkGroupSize.x) {
        float sc = s_scale[w / 8];
        float inv = sc > 0.0 ? 1.0 / sc : 0.0;
        uint packed = 0;
        for (uint j = 0; j < 4; j++) {
            int v = int(clamp(roundEven(s_row[4 * w + j] * inv), -127.0, 127.0));
            packed |= (uint(v) & 0xFFu) << (8 * j);
        }
        if (is_v) {
            v_cache[r * words + w] = packed;
        } else {
            k_cache[r * words + w] = packed;
        }
    }
    uint scale_at = p.page_rows * p.kv_heads * words + r * scale_words;
    for (uint s = gl_LocalInvocationID.x; s < scale_words; s += gl_WorkGroupSize.x) {
        uint packed = packHalf2x16(vec2(s_scale[2 * s], 2 * s + 1 < blocks ? s_scale[2 * s + 1] : 0.0));
        if (is_v) {
            v_cache[scale_at + s] = packed;
        } else {
            k_cache[scale_at + s] = packed;
        }
    }
}
