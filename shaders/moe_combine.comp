#version 450
// h[i] += sum over slots from first_slot of weight[slot] * partial[slot][i]: the routed experts' down projections
// (weighted by the router) and the shared expert (weight 1), added to the residual stream. first_slot is 0, or the
// shared expert's slot in a layer whose routed experts run on the host (their sum is added apart).
// With NORM the layer's last dispatch also writes x = rmsnorm(h) * w, the next layer's input norm (or the final
// norm): one workgroup then covers h (n floats, 9 partials each), which saves the next layer a dispatch and a barrier.

#extension GL_GOOGLE_include_directive : require
#include "limits.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool NORM = false;

#include "common.glsl"

layout(std430, binding = 0) readonly buffer Partial { float partial[]; };
layout(std430, binding = 1) readonly buffer Routing { Route route; };
layout(std430, binding = 2) buffer H { float h[]; };
layout(std430, binding = 3) readonly buffer W { float w[]; };    // NORM: the next norm's weight
layout(std430, binding = 4) writeonly buffer X { float x[]; };   // NORM: rmsnorm(h) * w

layout(push_constant) uniform Push {
    uint n;
    uint slots;
    uint first_slot;
    float eps;   // NORM
} p;

float combined(uint i)
{
    float sum = 0.0;
    for (uint s = p.first_slot; s < p.slots; s++) {
        sum += route.weights[s] * partial[s * p.n + i];
    }
    return h[i] + sum;
}

void main()
{
    if (!NORM) {
        uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
        for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
            h[i] = combined(i);
        }
        return;
    }
    // One workgroup: each invocation rereads only the h it wrote itself.
    float sq = 0.0;
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += gl_WorkGroupSize.x) {
        float v = combined(i);
        h[i] = v;
        sq += v * v;
    }
    float scale = inversesqrt(workgroup_sum(sq) / float(p.n) + p.eps);
    for (uint i = gl_LocalInvocationID.x; i < p.n; i += gl_WorkGroupSize.x) {
        x[i] = h[i] * scale * w[i];
    }
}
