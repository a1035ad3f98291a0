#version 450
// Prefill MoE: groups the (token, slot) assignments of a batch by expert so each expert's weights are read once for
// all its tokens. From routes[t] (moe_route.comp) it writes, per expert e (the shared expert last): count[e] and
// offset[e] into the grouped list; per list entry: the token; per (token, slot): the entry. An expert's list is in
// token order, as a serial walk would make it.
//
// One workgroup of 64 invocations, one per token of a pass of 64: a histogram (shared atomics), its prefix sum, then
// per pass a 64-bit mask per expert of the pass's tokens routed to it; a token's place in an expert's list is the
// list's start, plus the earlier passes' tokens, plus the bits below its own. A token routes to an expert at most once
// (its top-k are distinct and the shared expert is none of them).

#extension GL_GOOGLE_include_directive : require
#include "limits.glsl"

layout(local_size_x = 64) in;

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

const uint PASS = 64;
shared uint s_count[MAX_EXPERT_GROUPS];
shared uint s_next[MAX_EXPERT_GROUPS];       // the first entry of e not yet given out
shared uint s_hits[MAX_EXPERT_GROUPS][2];    // this pass: bit i of the tokens first + i routed to e

// Slot s's expert of token t. moe_route.comp writes ids below p.experts; the clamp keeps a corrupt route from indexing
// shared memory or the entry lists out of range (every entry is still written once).
uint expert_of(uint t, uint s)
{
    return min(routes[t].ids[s], p.experts - 1u);
}

void main()
{
    uint i = gl_LocalInvocationID.x;
    for (uint e = i; e < p.experts; e += PASS) {
        s_count[e] = 0;
    }
    barrier();
    for (uint t = i; t < p.tokens; t += PASS) {
        for (uint s = 0; s < p.slots; s++) {
            atomicAdd(s_count[expert_of(t, s)], 1u);
        }
    }
    barrier();
    if (i == 0) {
        uint at = 0;
        for (uint e = 0; e < p.experts; e++) {
            group_.counts[e] = s_count[e];
            group_.offsets[e] = at;
            s_next[e] = at;
            at += s_count[e];
        }
    }
    barrier();

    uint below = (1u << (i % 32)) - 1u;   // the earlier tokens of this one's mask word
    for (uint first = 0; first < p.tokens; first += PASS) {
        for (uint e = i; e < p.experts; e += PASS) {
            s_hits[e][0] = 0;
            s_hits[e][1] = 0;
        }
        barrier();
        uint t = first + i;
        if (t < p.tokens) {
            for (uint s = 0; s < p.slots; s++) {
                atomicOr(s_hits[expert_of(t, s)][i / 32], 1u << (i % 32));
            }
        }
        barrier();
        if (t < p.tokens) {
            for (uint s = 0; s < p.slots; s++) {
                uint e = expert_of(t, s);
                uint rank = i < 32 ? bitCount(s_hits[e][0] & below) : bitCount(s_hits[e][0]) + bitCount(s_hits[e][1] & below);
                uint entry = s_next[e] + rank;
                entry_token[entry] = t;
                entry_of[t * p.slots + s] = entry;
            }
        }
        barrier();
        for (uint e = i; e < p.experts; e += PASS) {
            s_next[e] += bitCount(s_hits[e][0]) + bitCount(s_hits[e][1]);
        }
        barrier();
    }
}
