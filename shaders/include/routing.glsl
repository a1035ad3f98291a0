// MoE gating of one token (docs/model.md 2.4) from its router logits: softmax over all experts, the top k (ties to the
// lower index), renormalised to sum to 1 when norm_topk, times the routed scaling factor; then the shared expert as
// one more slot with weight 1 (its weights are stacked after the routed experts, so its id is the expert count).
// Every id is below experts + shared_experts, whatever the logits: logits that are not finite (activations that
// overflowed) rank nothing, and route to the first top_k experts, each weighted NaN, so the kernels that index with
// the ids stay in range and the NaN reaches the logits, where sampling reports "not finite" as for any other overflow.
//
// Split across a subgroup (lane < lanes = gl_SubgroupSize; the softmax's max and sum and each pick are subgroup
// reductions), or walked by one invocation (lanes = 1: the reductions are no-ops). Call from uniform control flow.
// The including shader defines float router_logit(uint e), the token's logit of expert e, and enables
// GL_KHR_shader_subgroup_arithmetic.
#ifndef ROUTING_GLSL
#define ROUTING_GLSL

#include "limits.glsl"

struct RouteParams {
    uint experts;
    uint top_k;
    uint shared_experts;   // 0 or 1
    bool norm_topk;
    float scaling;
};

Route route_token(RouteParams p, uint lane, uint lanes)
{
    Route r;
    for (uint k = 0; k < MAX_ROUTE_SLOTS; k++) {
        r.ids[k] = 0;
        r.weights[k] = 0.0;
    }
    if (p.shared_experts != 0) {
        r.ids[p.top_k] = p.experts;
        r.weights[p.top_k] = 1.0;
    }

    float m = -1.0 / 0.0;
    uint bad = 0;
    for (uint e = lane; e < p.experts; e += lanes) {
        float v = router_logit(e);
        bad |= isnan(v) || isinf(v) ? 1u : 0u;
        m = max(m, v);
    }
    if (subgroupMax(bad) != 0) {
        for (uint k = 0; k < p.top_k; k++) {
            r.ids[k] = k;
            r.weights[k] = uintBitsToFloat(0x7FC00000u);
        }
        return r;
    }
    float max_logit = subgroupMax(m);
    float s = 0.0;
    for (uint e = lane; e < p.experts; e += lanes) {
        s += exp(router_logit(e) - max_logit);
    }
    float total = subgroupAdd(s);

    // Top k by repeated selection, ties to the lower index: each lane's best untaken expert (strictly greater wins,
    // so a lane keeps its lowest index among equals), then the largest value and, among lanes holding it, the lowest id.
    uint chosen_mask_lo = 0, chosen_mask_hi = 0;   // up to MAX_EXPERTS = 64, the same in every lane
    float picked_sum = 0.0;
    for (uint k = 0; k < p.top_k; k++) {
        uint mine = MAX_EXPERTS;   // none
        float mine_value = -1.0 / 0.0;
        for (uint e = lane; e < p.experts; e += lanes) {
            bool taken = e < 32 ? ((chosen_mask_lo >> e) & 1u) != 0 : ((chosen_mask_hi >> (e - 32)) & 1u) != 0;
            float v = router_logit(e);
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
        r.ids[k] = best;
        r.weights[k] = prob;
        picked_sum += prob;
    }
    for (uint k = 0; k < p.top_k; k++) {
        r.weights[k] = (p.norm_topk ? r.weights[k] / picked_sum : r.weights[k]) * p.scaling;
    }
    return r;
}

#endif
