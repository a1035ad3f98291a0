#version 450
// MoE gating (spec 2.4) from the router logits: softmax over all experts, the top k (ties to the lower index),
// renormalised to sum to 1 when NORM_TOPK, times the routed scaling factor; then the shared expert as one more slot
// with weight 1 (its weights are stacked after the routed experts, so its id is the expert count).
// One invocation per token (grid x = tokens): 64 logits and 8 picks are too little work to share. Token t reads
// logits [t][experts] and writes routes[t].

#extension GL_GOOGLE_include_directive : require
#include "limits.glsl"

layout(local_size_x = 1) in;

layout(std430, binding = 0) readonly buffer Logits { float logits[]; };
layout(std430, binding = 1) writeonly buffer Routes { Route routes[]; };

layout(push_constant) uniform Push {
    uint experts;
    uint top_k;
    uint shared_experts;   // 0 or 1
    uint norm_topk;
    float scaling;
} p;

void main()
{
    uint t = gl_WorkGroupID.x;
    uint base = t * p.experts;
    float max_logit = -1.0 / 0.0;
    for (uint e = 0; e < p.experts; e++) {
        max_logit = max(max_logit, logits[base + e]);
    }
    float total = 0.0;
    for (uint e = 0; e < p.experts; e++) {
        total += exp(logits[base + e] - max_logit);
    }

    // Top k by repeated selection: strictly greater wins, so equal values keep the lower index.
    uint chosen_mask_lo = 0, chosen_mask_hi = 0;   // up to MAX_EXPERTS = 64
    float picked_sum = 0.0;
    float picked[MAX_ROUTE_SLOTS];
    for (uint k = 0; k < p.top_k; k++) {
        uint best = 0;
        float best_value = -1.0 / 0.0;
        bool found = false;
        for (uint e = 0; e < p.experts; e++) {
            bool taken = e < 32 ? ((chosen_mask_lo >> e) & 1u) != 0 : ((chosen_mask_hi >> (e - 32)) & 1u) != 0;
            float v = logits[base + e];
            if (!taken && (!found || v > best_value)) {
                best = e;
                best_value = v;
                found = true;
            }
        }
        if (best < 32) {
            chosen_mask_lo |= 1u << best;
        } else {
            chosen_mask_hi |= 1u << (best - 32);
        }
        float prob = exp(best_value - max_logit) / total;
        routes[t].ids[k] = best;
        picked[k] = prob;
        picked_sum += prob;
    }
    for (uint k = 0; k < p.top_k; k++) {
        routes[t].weights[k] = (p.norm_topk != 0 ? picked[k] / picked_sum : picked[k]) * p.scaling;
    }
    if (p.shared_experts != 0) {
        routes[t].ids[p.top_k] = p.experts;
        routes[t].weights[p.top_k] = 1.0;
    }
}
