#version 450
// h[i] += sum over slots from first_slot of weight[slot] * partial[slot][i]: the routed experts' down projections
// (weighted by the router) and the shared expert (weight 1), added to the residual stream. first_slot is 0, or the
// shared expert's slot in a layer whose routed experts run on the host (their sum is added apart).

#extension GL_GOOGLE_include_directive : require
#include "limits.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Partial { float partial[]; };
layout(std430, binding = 1) readonly buffer Routing { Route route; };
layout(std430, binding = 2) buffer H { float h[]; };

layout(push_constant) uniform Push {
    uint n;
    uint slots;
    uint first_slot;
} p;

void main()
{
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        float sum = 0.0;
        for (uint s = p.first_slot; s < p.slots; s++) {
            sum += route.weights[s] * partial[s * p.n + i];
        }
        h[i] += sum;
    }
}
