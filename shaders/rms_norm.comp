#version 450
#extension GL_GOOGLE_include_directive : require
// RMSNorm of each row: y = x / sqrt(mean(x^2) + eps) * w.
// x, y: [rows, n] f32; w: [n] f32. One workgroup per row (grid x = rows).

layout(local_size_x_id = 0) in;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) writeonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
    uint n;
    float eps;
} p;

void main()
{
    uint base = gl_WorkGroupID.x * p.n;
    float sq = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += gl_WorkGroupSize.x) {
        float v = x[base + i];
        sq += v * v;
    }
    float scale = inversesqrt(workgroup_sum(sq) / float(p.n) + p.eps);
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += gl_WorkGroupSize.x) {
        y[base + i] = x[base + i] * scale * w[i];
    }
}
