#version 450
// Prefill MoE: h[t] += sum over slots s of weight[t][s] * partial[entry_of[t][s]] — the grouped experts' outputs,
// weighted by the router (the shared expert by 1), added back to each token's residual. Grid: (hidden chunks, tokens).
// Slots from first_slot: 0, or the shared expert's slot in a layer whose routed experts run on the host.

#extension GL_GOOGLE_include_directive : require
#include "limits.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Partial { float partial[]; };   // [entries][hidden]
layout(std430, binding = 1) readonly buffer Routes { Route routes[]; };
layout(std430, binding = 2) readonly buffer EntryOf { uint entry_of[]; };   // [tokens][slots]
layout(std430, binding = 3) buffer H { float h[]; };                        // [tokens][hidden]

layout(push_constant) uniform Push {
    uint hidden;
    uint slots;
    uint first_slot;
} p;

void main()
{
    uint t = gl_WorkGroupID.y, i = gl_GlobalInvocationID.x;
    if (i >= p.hidden) {
        return;
    }
    float sum = 0.0;
    for (uint s = p.first_slot; s < p.slots; s++) {
        sum += routes[t].weights[s] * partial[entry_of[t * p.slots + s] * p.hidden + i];
    }
    h[t * p.hidden + i] += sum;
}
