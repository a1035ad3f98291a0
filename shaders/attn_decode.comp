#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
// Attention over the KV cache, split over positions (flash-decoding): workgroup (kv head, split, token) takes CHUNK
// positions and the GROUP query heads that share the kv head (GQA: query head h reads kv head h / GROUP), so K and V
// are read once for all of them. It writes, per query head, the chunk's softmax max m, sum l and unnormalised output
// o[d]; attn_combine.comp merges the splits. Token t of a batch sits at position0 + t and sees positions
// 0..position0 + t (causal), so one token is decode and many are prefill. Scores scale 1/sqrt(d), softmax in fp32.
// Splits keep every invocation's loops short (lavapipe stops an invocation after 65535 loop iterations in all); a
// short context gets smaller chunks (push `chunk` <= CHUNK) so a GPU still has enough workgroups.
// Scores: LANES = 1, each invocation one position (what suits lavapipe); LANES = subgroup size, a subgroup per
// position with its lanes across the head dimension (reads of a K row side by side) summed by subgroupAdd; the
// pipeline requires full subgroups of LANES.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint CHUNK = 256;
layout(constant_id = 2) const uint GROUP = 4;
layout(constant_id = 3) const uint LANES = 1;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Q { float q[]; };             // [tokens][heads * d]
layout(std430, binding = 1) readonly buffer Kc { float16_t k_cache[]; };  // [positions][kv_heads * d]
layout(std430, binding = 2) readonly buffer Vc { float16_t v_cache[]; };
layout(std430, binding = 3) writeonly buffer Part { float part[]; };      // [tokens][heads][max_splits][d + 2]: o, m, l

layout(push_constant) uniform Push {
    uint kv_heads;
    uint head_dim;
    uint position0;    // position of token 0; token t attends to positions 0..position0 + t
    uint max_splits;   // splits of the last token (the grid's y)
    float scale;
    uint chunk;        // positions per split, at most CHUNK
} p;

shared float s_p[GROUP][CHUNK];

void main()
{
    uint kvh = gl_WorkGroupID.x, split = gl_WorkGroupID.y, token = gl_WorkGroupID.z;
    uint d = p.head_dim, kv_row = p.kv_heads * d, heads = p.kv_heads * GROUP;
    uint kv_len = p.position0 + token + 1;
    uint t0 = split * p.chunk;
    if (t0 >= kv_len) {
        return;   // this token has fewer splits (uniform for the workgroup)
    }
    uint n = min(p.chunk, kv_len - t0);
    uint q_base = token * heads * d;
    uint part_base = token * heads * p.max_splits * (d + 2);

    // Scores of this chunk for the GROUP query heads.
    if (LANES == 1) {
        for (uint t = gl_LocalInvocationID.x; t < n; t += gl_WorkGroupSize.x) {
            uint k_at = (t0 + t) * kv_row + kvh * d;
            for (uint g = 0; g < GROUP; g++) {
                uint q_at = q_base + (kvh * GROUP + g) * d;
                float s = 0.0;
                for (uint i = 0; i < d; i++) {
                    s += q[q_at + i] * float(k_cache[k_at + i]);
                }
                s_p[g][t] = s * p.scale;
            }
        }
    } else {
        for (uint t = gl_SubgroupID; t < n; t += gl_NumSubgroups) {   // uniform in the subgroup
            uint k_at = (t0 + t) * kv_row + kvh * d;
            float s[GROUP];
            for (uint g = 0; g < GROUP; g++) {
                s[g] = 0.0;
            }
            for (uint i = gl_SubgroupInvocationID; i < d; i += LANES) {
                float k = float(k_cache[k_at + i]);
                for (uint g = 0; g < GROUP; g++) {
                    s[g] += q[q_base + (kvh * GROUP + g) * d + i] * k;
                }
            }
            for (uint g = 0; g < GROUP; g++) {
                s[g] = subgroupAdd(s[g]);
            }
            if (subgroupElect()) {
                for (uint g = 0; g < GROUP; g++) {
                    s_p[g][t] = s[g] * p.scale;
                }
            }
        }
    }
    barrier();

    for (uint g = 0; g < GROUP; g++) {
        float m = -1.0 / 0.0;
        for (uint t = gl_LocalInvocationID.x; t < n; t += gl_WorkGroupSize.x) {
            m = max(m, s_p[g][t]);
        }
        m = workgroup_max(m);
        float l = 0.0;
        for (uint t = gl_LocalInvocationID.x; t < n; t += gl_WorkGroupSize.x) {
            float e = exp(s_p[g][t] - m);
            s_p[g][t] = e;
            l += e;
        }
        l = workgroup_sum(l);
        uint out_at = part_base + ((kvh * GROUP + g) * p.max_splits + split) * (d + 2);
        if (gl_LocalInvocationID.x == 0) {
            part[out_at + d] = m;
            part[out_at + d + 1] = l;
        }
    }
    barrier();

    // Unnormalised outputs: each invocation owns some dimensions.
    for (uint i = gl_LocalInvocationID.x; i < d; i += gl_WorkGroupSize.x) {
        float acc[GROUP];
        for (uint g = 0; g < GROUP; g++) {
            acc[g] = 0.0;
        }
        for (uint t = 0; t < n; t++) {
            float v = float(v_cache[(t0 + t) * kv_row + kvh * d + i]);
            for (uint g = 0; g < GROUP; g++) {
                acc[g] += s_p[g][t] * v;
            }
        }
        for (uint g = 0; g < GROUP; g++) {
            part[part_base + ((kvh * GROUP + g) * p.max_splits + split) * (d + 2) + i] = acc[g];
        }
    }
}
