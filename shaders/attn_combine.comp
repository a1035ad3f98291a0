#version 450
// Merges attn_decode's splits for each query head and token (grid: head, token): with M the largest split max,
// out = sum_s o_s exp(m_s - M) / sum_s l_s exp(m_s - M). Every slot of every token is written by attn_decode; a
// split with nothing for the token has l = 0 and is skipped.

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Part { float part[]; };   // [tokens][heads][max_splits][d + 2]
layout(std430, binding = 1) writeonly buffer Out { float o[]; };      // [tokens][heads * d]

layout(push_constant) uniform Push {
    uint head_dim;
    uint max_splits;
} p;

void main()
{
    uint h = gl_WorkGroupID.x, token = gl_WorkGroupID.y, heads = gl_NumWorkGroups.x, d = p.head_dim;
    uint base = (token * heads + h) * p.max_splits * (d + 2);
    float big = -1.0 / 0.0;
    for (uint s = 0; s < p.max_splits; s++) {
        big = max(big, part[base + s * (d + 2) + d]);
    }
    float total = 0.0;
    for (uint s = 0; s < p.max_splits; s++) {
        float l = part[base + s * (d + 2) + d + 1];
        total += l > 0.0 ? l * exp(part[base + s * (d + 2) + d] - big) : 0.0;
    }
    for (uint i = gl_LocalInvocationID.x; i < d; i += gl_WorkGroupSize.x) {
        float acc = 0.0;
        for (uint s = 0; s < p.max_splits; s++) {
            uint at = base + s * (d + 2);
            if (part[at + d + 1] > 0.0) {
                acc += part[at + i] * exp(part[at + d] - big);
            }
        }
        o[(token * heads + h) * d + i] = acc / total;
    }
}
