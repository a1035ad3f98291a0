#version 450
// Prefill MoE: groups the (token, slot) assignments of a batch by expert so each expert's weights are read once for
// all its tokens. From routes[t] (moe_route.comp) it writes, per expert e (the shared expert last): count[e] and
// offset[e] into the grouped list; per list entry: the token and its routing weight; per (token, slot): the entry.
// One invocation: a few thousand assignments.

layout(local_size_x = 1) in;

struct Route {
    uint ids[16];
    float weights[16];
};
layout(std430, binding = 0) readonly buffer Routes { Route routes[]; };
layout(std430, binding = 1) writeonly buffer Group {
    uint counts[80];     // per expert (up to 64 routed + shared + spare)
    uint offsets[80];
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
    uint counts[80];
    for (uint e = 0; e < p.experts; e++) {
        counts[e] = 0;
    }
    for (uint t = 0; t < p.tokens; t++) {
        for (uint s = 0; s < p.slots; s++) {
            counts[routes[t].ids[s]]++;
        }
    }
    uint next[80];
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
