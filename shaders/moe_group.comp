#version 450
// Prefill MoE: groups the (token, slot) assignments of a batch by expert so each expert's weights are read once for
// all its tokens. From routes[t] (moe_route.comp) it writes, per expert e (the shared expert last): count[e] and
// offset[e] into the grouped list; per list entry: the token and its routing weight; per (token, slot): the entry.
// One invocation: a few thousand assignments.

#extension GL_GOOGLE_include_directive : require
#include "limits.glsl"

layout(local_size_x = 1) in;

layout(std430, binding = 0) readonly buffer Routes { Route routes[]; };
layout(std430, binding = 1) writeonly buffer Group {
    uint counts[MAX_EXPERT_GROUPS];
    uint offsets[MAX_EXPERT_GROUPS];
} group_;
layout(std430, binding = 2) writeonly buffer Entries { uint entry_token[]; };    // [tokens * slots]
layout(std430, binding = 3) writeonly buffer EntryOf { uint entry_of[]; };       // [tokens][slots]

layout(push_constant) uniform Push {
    uint tokens;
    uint slots;
    uint experts;   // including the shared one
} p;

void main()
{
    uint counts[MAX_EXPERT_GROUPS];
    for (uint e = 0; e < p.experts; e++) {
        counts[e] = 0;
    }
    for (uint t = 0; t < p.tokens; t++) {
        for (uint s = 0; s < p.slots; s++) {
            counts[routes[t].ids[s]]++;
        }
    }
    uint next[MAX_EXPERT_GROUPS];
    uint at = 0;
    for (uint e = 0; e < p.experts; e++) {
        group_.counts[e] = counts[e];
        group_.offsets[e] = at;
        next[e] = at;
        at += counts[e];
    }
    for (uint t = 0; t < p.tokens; t++) {
        for (uint s = 0; s < p.slots; s++) {
            uint e = routes[t].ids[s];
            uint entry = next[e]++;
            entry_token[entry] = t;
            entry_of[t * p.slots + s] = entry;
        }
    }
}
