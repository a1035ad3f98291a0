#version 450
// Merges attn_decode's splits for each query head (grid x = head): with M the largest split max,
// out = sum_s o_s exp(m_s - M) / sum_s l_s exp(m_s - M).

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Part { float part[]; };   // [heads][splits][d + 2]
layout(std430, binding = 1) writeonly buffer Out { float o[]; };      // [heads * d]

layout(push_constant) uniform Push {
    uint head_dim;
    uint splits;
} p;

void main()
{
    uint h = gl_WorkGroupID.x, d = p.head_dim;
    uint base = h * p.splits * (d + 2);
    float big = -1.0 / 0.0;
    for (uint s = 0; s < p.splits; s++) {
        big = max(big, part[base + s * (d + 2) + d]);
    }
    float total = 0.0;
    for (uint s = 0; s < p.splits; s++) {
        total += part[base + s * (d + 2) + d + 1] * exp(part[base + s * (d + 2) + d] - big);
    }
    for (uint i = gl_LocalInvocationID.x; i < d; i += gl_WorkGroupSize.x) {
        float acc = 0.0;
        for (uint s = 0; s < p.splits; s++) {
            acc += part[base + s * (d + 2) + i] * exp(part[base + s * (d + 2) + d] - big);
        }
        o[h * d + i] = acc / total;
    }
}
