#version 450
// Merges attn_decode's splits for each query head and token (grid: head, token): with M the largest split max,
// out = sum_s o_s exp(m_s - M) / sum_s l_s exp(m_s - M). Token t has ceil((position0 + t + 1) / chunk) splits.

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Part { float part[]; };   // [tokens][heads][max_splits][d + 2]
layout(std430, binding = 1) writeonly buffer Out { float o[]; };      // [tokens][heads * d]

layout(push_constant) uniform Push {
    uint head_dim;
    uint max_splits;
    uint position0;
    uint chunk;
} p;

void main()
{
    uint h = gl_WorkGroupID.x, token = gl_WorkGroupID.y, heads = gl_NumWorkGroups.x, d = p.head_dim;
    uint splits = (p.position0 + token + 1 + p.chunk - 1) / p.chunk;
    uint base = (token * heads + h) * p.max_splits * (d + 2);
    float big = -1.0 / 0.0;
    for (uint s = 0; s < splits; s++) {
        big = max(big, part[base + s * (d + 2) + d]);
    }
    float total = 0.0;
    for (uint s = 0; s < splits; s++) {
        total += part[base + s * (d + 2) + d + 1] * exp(part[base + s * (d + 2) + d] - big);
    }
    for (uint i = gl_LocalInvocationID.x; i < d; i += gl_WorkGroupSize.x) {
        float acc = 0.0;
        for (uint s = 0; s < splits; s++) {
            acc += part[base + s * (d + 2) + i] * exp(part[base + s * (d + 2) + d] - big);
        }
        o[(token * heads + h) * d + i] = acc / total;
    }
}
