#version 450
// MoE gating (docs/model.md 2.4) from the router logits: softmax over all experts, the top k (ties to the lower index),
// renormalised to sum to 1 when NORM_TOPK, times the routed scaling factor; then the shared expert as one more slot
// with weight 1 (its weights are stacked after the routed experts, so its id is the expert count). Every id written is
// below experts + shared_experts, whatever the logits (see the check for values that are not finite).
// One subgroup per token (grid x = tokens; the pipeline requires full subgroups): each lane holds the experts
// lane, lane + lanes, ...; the softmax's max and sum and each pick are subgroup reductions, so a token costs 8 rounds
// of 64 / lanes reads instead of one invocation's 8 x 64. Token t reads logits [t][experts] and writes routes[t].

#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "limits.glsl"

layout(local_size_x_id = 0) in;   // 1 (lavapipe), or the device's largest subgroup size with full subgroups
layout(constant_id = 1) const bool SPLIT = true;   // false: one invocation walks all experts (the reductions are no-ops)

layout(std430, binding = 0) readonly buffer Logits { float logits[]; };
layout(std430, binding = 1) writeonly buffer Routes { Route routes[]; };

layout(push_constant) uniform Push {
    uint experts;
    uint top_k;
    uint shared_experts;   // 0 or 1
    uint norm_topk;
    float scaling;
} p;

// The shared expert as the slot after the top k, weight 1.
void write_shared_expert(uint t)
{
    if (p.shared_experts != 0) {
        routes[t].ids[p.top_k] = p.experts;
        routes[t].weights[p.top_k] = 1.0;
    }
}

void main()
{
    uint t = gl_WorkGroupID.x, lane = SPLIT ? gl_SubgroupInvocationID : 0, lanes = SPLIT ? gl_SubgroupSize : 1;
    uint base = t * p.experts;
    float m = -1.0 / 0.0;
    uint bad = 0;
    for (uint e = lane; e < p.experts; e += lanes) {
        float v = logits[base + e];
        bad |= isnan(v) || isinf(v) ? 1u : 0u;
        m = max(m, v);
    }
    if (subgroupMax(bad) != 0) {
        // Router logits that are not finite (activations that overflowed) rank nothing: the first top_k experts by
        // index, each weighted NaN, so every id stays in range for the kernels that index with it and the NaN reaches
        // the logits, where sampling reports "not finite" as for any other overflow.
        if (lane == 0) {
            for (uint k = 0; k < p.top_k; k++) {
                routes[t].ids[k] = k;
                routes[t].weights[k] = uintBitsToFloat(0x7FC00000u);
            }
            write_shared_expert(t);
        }
        return;   // uniform: the whole subgroup (the workgroup) saw the flag
    }
    float max_logit = subgroupMax(m);
    float s = 0.0;
    for (uint e = lane; e < p.experts; e += lanes) {
        s += exp(logits[base + e] - max_logit);
    }
    float total = subgroupAdd(s);

    // Top k by repeated selection, ties to the lower index: each lane's best untaken expert (strictly greater wins,
    // so a lane keeps its lowest index among equals), then the largest value and, among lanes holding it, the lowest id.
    uint chosen_mask_lo = 0, chosen_mask_hi = 0;   // up to MAX_EXPERTS = 64, the same in every lane
    float picked_sum = 0.0;
    float picked[MAX_ROUTE_SLOTS];
    for (uint k = 0; k < p.top_k; k++) {
        uint mine = MAX_EXPERTS;   // none
        float mine_value = -1.0 / 0.0;
        for (uint e = lane; e < p.experts; e += lanes) {
            bool taken = e < 32 ? ((chosen_mask_lo >> e) & 1u) != 0 : ((chosen_mask_hi >> (e - 32)) & 1u) != 0;
            float v = logits[base + e];
            if (!taken && (mine == MAX_EXPERTS || v > mine_value)) {
                mine = e;
                mine_value = v;
            }
        }
        float best_value = subgroupMax(mine_value);
        uint best = subgroupMin(mine != MAX_EXPERTS && mine_value == best_value ? mine : 0xFFFFFFFFu);
        if (best < 32) {
            chosen_mask_lo |= 1u << best;
        } else {
            chosen_mask_hi |= 1u << (best - 32);
        }
        float prob = exp(best_value - max_logit) / total;
        picked[k] = prob;
        picked_sum += prob;
        if (lane == 0) {
            routes[t].ids[k] = best;
        }
    }
    if (lane != 0) {
        return;
    }
    for (uint k = 0; k < p.top_k; k++) {
        routes[t].weights[k] = (p.norm_topk != 0 ? picked[k] / picked_sum : picked[k]) * p.scaling;
    }
    write_shared_expert(t);
}
