#version 450
#extension GL_GOOGLE_include_directive : require
// Attention over one page of the KV cache, split over positions (flash-decoding): workgroup (kv head, split, token)
// takes the split's positions and the GROUP query heads that share the kv head (GQA: query head h reads kv head
// h / GROUP), so K and V are read once for all of them. A split covers `span` positions in chunks of at most CHUNK
// (the shared score array), keeping a running max, sum and output across its chunks (online softmax), and writes per
// query head its max m, sum l and unnormalised output o[d]; attn_combine.comp merges the splits of all pages. Token
// t of a batch sits at position0 + t and sees positions 0..position0 + t (causal), so one token is decode and many
// are prefill; a split with no position for its token writes m = -inf, l = 0 (o is not read then). Scores scale
// 1/sqrt(d), softmax in fp32. The cache is f16 or int8 with block scales (include/kv_cache.glsl), chosen by KV_Q8.
// K and V are read through texel buffers (lavapipe's vector loads): K as uint texels, V as uvec4. Every invocation's loops stay short: lavapipe stops an invocation after 65535 loop iterations in all, which bounds
// the span (AttentionDecodeKernel.Plan). Scores: LANES = subgroup size, a subgroup per position with its lanes across
// the row's 4-value slots (coalesced), each lane's slots of the queries held in registers for the whole split, summed
// by subgroupAdd (the pipeline requires full subgroups of LANES); LANES = 1, each invocation one position with the
// queries in shared memory (the fallback where a device cannot promise full subgroups).

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint CHUNK = 256;
layout(constant_id = 2) const uint GROUP = 4;
layout(constant_id = 3) const uint LANES = 1;
layout(constant_id = 4) const uint HEAD_DIM = 128;
layout(constant_id = 5) const uint KV_Q8 = 0;
#include "common.glsl"
#include "kv_cache.glsl"

layout(std430, binding = 0) readonly buffer Q { vec4 q[]; };              // [tokens][heads * d]
layout(binding = 1) uniform usamplerBuffer k_cache;                      // one page, as uint texels
layout(binding = 2) uniform usamplerBuffer v_cache;                      // the same page of V
layout(std430, binding = 3) writeonly buffer Part { float part[]; };      // [tokens][heads][max_splits][d + 2]: o, m, l

layout(push_constant) uniform Push {
    uint kv_heads;
    uint position0;    // position of token 0; token t attends to positions 0..position0 + t
    uint max_splits;   // splits of all pages (the partials' slots per head)
    float scale;
    uint chunk;        // positions per chunk, at most CHUNK
    uint span;         // positions per split, a multiple of chunk
    uint page_start;   // this page's first position
    uint page_end;     // one past the last position of this page the last token sees
    uint page_rows;    // positions the page holds (where its int8 scales start)
    uint split_base;   // the slot of this page's first split
} p;

const uint D4 = HEAD_DIM / 4;
shared vec4 s_q[GROUP * D4];          // the group's queries
shared float s_p[GROUP][CHUNK];       // scores, then probabilities, of the chunk
shared vec4 s_o[GROUP * D4];          // running outputs, each part owned by one invocation

float k_scale(uint r, uint b)         // int8 K: the scale of block b of head row r
{
    uint at = p.page_rows * p.kv_heads * KV_WORDS + r * KV_SCALE_WORDS + b / 2;
    return unpackHalf2x16(texelFetch(k_cache, int(at)).x)[b % 2];
}

float v_scale(uint r, uint b)
{
    uint at = p.page_rows * p.kv_heads * KV_WORDS + r * KV_SCALE_WORDS + b / 2;
    return unpackHalf2x16(texelFetch(v_cache, int(at / 4))[at % 4])[b % 2];
}

// Dot of query head g's values 4w..4w+3 with k.
float dot4(uint g, uint w, vec4 k)
{
    return dot(s_q[g * D4 + w], k);
}

uvec4 k_texel(uint at)   // four words of K from word `at`
{
    return uvec4(texelFetch(k_cache, int(at)).x, texelFetch(k_cache, int(at + 1)).x, texelFetch(k_cache, int(at + 2)).x, texelFetch(k_cache, int(at + 3)).x);
}

const uint SLOTS = (D4 + LANES - 1) / LANES;
const uint TEXELS = KV_WORDS / 4;   // uvec4 texels of a V head row

// The values of texel j of V head row r: 8 in f16 (v[0], v[1]), 16 in int8 (v[0..3], of one block's scale).
void v_values(uint r, uint j, out vec4 v[4])
{
    uvec4 w = texelFetch(v_cache, int(r * TEXELS + j));
    if (KV_Q8 == 0) {
        v[0] = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
        v[1] = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
        v[2] = v[3] = vec4(0.0);
    } else {
        float sc = v_scale(r, j / 2);   // 16 values of a block of 32
        v[0] = kv_bytes(w.x) * sc;
        v[1] = kv_bytes(w.y) * sc;
        v[2] = kv_bytes(w.z) * sc;
        v[3] = kv_bytes(w.w) * sc;
    }
}   // 4-value slots of a head row each lane takes (LANES > 1)

void main()
{
    uint kvh = gl_WorkGroupID.x, token = gl_WorkGroupID.z, lid = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    uint heads = p.kv_heads * GROUP;
    uint kv_len = p.position0 + token + 1;
    uint s0 = p.page_start + gl_WorkGroupID.y * p.span;
    uint s1 = min(min(s0 + p.span, p.page_end), kv_len);
    uint split = p.split_base + gl_WorkGroupID.y;
    uint part_base = token * heads * p.max_splits * (HEAD_DIM + 2);
    if (s0 >= s1) {   // nothing this token sees (uniform for the workgroup)
        for (uint g = lid; g < GROUP; g += wg) {
            uint at = part_base + ((kvh * GROUP + g) * p.max_splits + split) * (HEAD_DIM + 2);
            part[at + HEAD_DIM] = -1.0 / 0.0;
            part[at + HEAD_DIM + 1] = 0.0;
        }
        return;
    }

    for (uint i = lid; i < GROUP * D4; i += wg) {
        s_q[i] = q[(token * heads + kvh * GROUP) * D4 + i];
        s_o[i] = vec4(0.0);
    }
    vec4 q_lane[GROUP * SLOTS];   // LANES > 1: this lane's slots of the group's queries, for the whole split
    if (LANES > 1) {
        for (uint g = 0; g < GROUP; g++) {
            for (uint c = 0; c < SLOTS; c++) {
                uint slot = gl_SubgroupInvocationID + c * LANES;
                q_lane[g * SLOTS + c] = slot < D4 ? q[(token * heads + kvh * GROUP + g) * D4 + slot] : vec4(0.0);
            }
        }
    }
    float m_run[GROUP], l_run[GROUP], alpha[GROUP];
    for (uint g = 0; g < GROUP; g++) {
        m_run[g] = -1.0 / 0.0;
        l_run[g] = 0.0;
    }
    barrier();

    for (uint c0 = s0; c0 < s1; c0 += p.chunk) {
        uint n = min(p.chunk, s1 - c0);
        uint r0 = (c0 - p.page_start) * p.kv_heads + kvh;   // head row of the chunk's first position
        uint stride = p.kv_heads;                          // head rows from one position to the next

        // Scores of this chunk for the GROUP query heads.
        if (LANES == 1) {
            for (uint t = lid; t < n; t += wg) {
                uint r = r0 + t * stride, at = r * KV_WORDS;
                float s[GROUP];
                for (uint g = 0; g < GROUP; g++) {
                    s[g] = 0.0;
                }
                if (KV_Q8 == 0) {
                    for (uint j = 0; j < KV_WORDS / 4; j++) {   // 8 values a load
                        uvec4 k = k_texel(at + 4 * j);
                        vec4 lo = vec4(unpackHalf2x16(k.x), unpackHalf2x16(k.y)), hi = vec4(unpackHalf2x16(k.z), unpackHalf2x16(k.w));
                        for (uint g = 0; g < GROUP; g++) {
                            s[g] += dot4(g, 2 * j, lo) + dot4(g, 2 * j + 1, hi);
                        }
                    }
                } else {
                    for (uint b = 0; b < HEAD_DIM / 32; b++) {   // a block of 32: two loads and a scale
                        uvec4 k0 = k_texel(at + 8 * b), k1 = k_texel(at + 8 * b + 4);
                        float sc = k_scale(r, b);
                        for (uint g = 0; g < GROUP; g++) {
                            uint w = 8 * b;
                            float sb = dot4(g, w, kv_bytes(k0.x)) + dot4(g, w + 1, kv_bytes(k0.y)) + dot4(g, w + 2, kv_bytes(k0.z)) + dot4(g, w + 3, kv_bytes(k0.w))
                                + dot4(g, w + 4, kv_bytes(k1.x)) + dot4(g, w + 5, kv_bytes(k1.y)) + dot4(g, w + 6, kv_bytes(k1.z)) + dot4(g, w + 7, kv_bytes(k1.w));
                            s[g] += sc * sb;
                        }
                    }
                }
                for (uint g = 0; g < GROUP; g++) {
                    s_p[g][t] = s[g] * p.scale;
                }
            }
        } else {
            for (uint t = gl_SubgroupID; t < n; t += gl_NumSubgroups) {   // uniform in the subgroup
                uint r = r0 + t * stride;
                float s[GROUP];
                for (uint g = 0; g < GROUP; g++) {
                    s[g] = 0.0;
                }
                for (uint c = 0; c < SLOTS; c++) {
                    uint slot = gl_SubgroupInvocationID + c * LANES;
                    if (slot < D4) {
                        vec4 k;
                        if (KV_Q8 == 0) {
                            uint at = r * KV_WORDS + 2 * slot;
                            k = vec4(unpackHalf2x16(texelFetch(k_cache, int(at)).x), unpackHalf2x16(texelFetch(k_cache, int(at + 1)).x));
                        } else {
                            k = kv_bytes(texelFetch(k_cache, int(r * KV_WORDS + slot)).x) * k_scale(r, slot / 8);
                        }
                        for (uint g = 0; g < GROUP; g++) {
                            s[g] += dot(q_lane[g * SLOTS + c], k);
                        }
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

        // Online softmax: the chunk's max joins the running one; earlier sums and outputs scale by alpha.
        for (uint g = 0; g < GROUP; g++) {
            float m = -1.0 / 0.0;
            for (uint t = lid; t < n; t += wg) {
                m = max(m, s_p[g][t]);
            }
            float m_new = max(m_run[g], workgroup_max(m));
            alpha[g] = exp(m_run[g] - m_new);
            float l = 0.0;
            for (uint t = lid; t < n; t += wg) {
                float e = exp(s_p[g][t] - m_new);
                s_p[g][t] = e;
                l += e;
            }
            l_run[g] = l_run[g] * alpha[g] + workgroup_sum(l);
            m_run[g] = m_new;
        }
        barrier();

        // Outputs. A large workgroup gives each (texel of the V row, query head) pair an invocation; a small one (lavapipe)
        // gives each invocation some texels for all GROUP heads. Texel j holds 8 values in f16, 16 in int8, and its
        // invocation owns their slots of s_o.
        if (wg >= TEXELS * GROUP) {
            if (lid < TEXELS * GROUP) {
                uint j = lid % TEXELS, g = lid / TEXELS;
                vec4 acc[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));
                for (uint t = 0; t < n; t++) {
                    uint r = r0 + t * stride;
                    vec4 v[4];
                    v_values(r, j, v);
                    float pg = s_p[g][t];
                    for (uint c = 0; c < KV_VALUES_PER_WORD; c++) {
                        acc[c] += pg * v[c];
                    }
                }
                for (uint c = 0; c < KV_VALUES_PER_WORD; c++) {
                    uint slot = g * D4 + j * KV_VALUES_PER_WORD + c;
                    s_o[slot] = s_o[slot] * alpha[g] + acc[c];
                }
            }
        } else {
            for (uint j = lid; j < KV_WORDS / 4; j += wg) {
                vec4 acc[GROUP * 4];   // GROUP x the texel's 4-value slots (2 in f16, 4 in int8)
                for (uint a = 0; a < GROUP * 4; a++) {
                    acc[a] = vec4(0.0);
                }
                for (uint t = 0; t < n; t++) {
                    uint r = r0 + t * stride;
                    vec4 v[4];
                    v_values(r, j, v);
                    for (uint g = 0; g < GROUP; g++) {
                        float pg = s_p[g][t];
                        for (uint c = 0; c < KV_VALUES_PER_WORD; c++) {
                            acc[g * 4 + c] += pg * v[c];
                        }
                    }
                }
                for (uint g = 0; g < GROUP; g++) {
                    for (uint c = 0; c < KV_VALUES_PER_WORD; c++) {
                        uint slot = g * D4 + j * KV_VALUES_PER_WORD + c;
                        s_o[slot] = s_o[slot] * alpha[g] + acc[g * 4 + c];
                    }
                }
            }
        }
        barrier();   // the next chunk's scores overwrite s_p
    }

    for (uint g = 0; g < GROUP; g++) {
        uint out_at = part_base + ((kvh * GROUP + g) * p.max_splits + split) * (HEAD_DIM + 2);
        for (uint i = lid; i < D4; i += wg) {
            vec4 o = s_o[g * D4 + i];
            part[out_at + 4 * i] = o.x;
            part[out_at + 4 * i + 1] = o.y;
            part[out_at + 4 * i + 2] = o.z;
            part[out_at + 4 * i + 3] = o.w;
        }
        if (lid == 0) {
            part[out_at + HEAD_DIM] = m_run[g];
            part[out_at + HEAD_DIM + 1] = l_run[g];
        }
    }
}
