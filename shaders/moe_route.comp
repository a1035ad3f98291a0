#version 450
// MoE gating (include/routing.glsl) for a batch of tokens: token t (grid x) reads logits [t][experts] and writes
// routes[t]. One subgroup per token (the pipeline requires full subgroups of the workgroup's size), so a token costs
// 8 rounds of 64 / lanes reads instead of one invocation's 8 x 64; or, without SPLIT, one invocation per token.

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

float router_logit(uint e)
{
    return logits[gl_WorkGroupID.x * p.experts + e];
}

#include "routing.glsl"

void main()
{
    uint lane = SPLIT ? gl_SubgroupInvocationID : 0, lanes = SPLIT ? gl_SubgroupSize : 1;
    Route r = route_token(RouteParams(p.experts, p.top_k, p.shared_experts, p.norm_topk != 0, p.scaling), lane, lanes);
    if (lane == 0) {
        routes[gl_WorkGroupID.x] = r;
    }
}
