#version 450
#extension GL_GOOGLE_include_directive : require
// Greedy sampling: the index of the largest logit (the lowest index among equals), written to tokens[slot] so the
// next step's embedding reads it on the GPU, with no host round-trip. One workgroup, reduced by subgroups: a second
// pass over per-workgroup partials would add a dependent dispatch per token, about what reading 128K logits in one
// workgroup costs. A NaN or infinite logit anywhere writes 0xFFFFFFFF instead (no token): the host stops with an
// error rather than decode garbage.

#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Logits { float logits[]; };
layout(std430, binding = 1) buffer Tokens { uint tokens[]; };

layout(push_constant) uniform Push {
    uint n;
    uint slot;
} p;

const uint NONE = 0xFFFFFFFFu;

shared float s_value[gl_WorkGroupSize.x];   // per subgroup (there are at most as many as invocations)
shared uint s_index[gl_WorkGroupSize.x];
shared uint s_bad[gl_WorkGroupSize.x];

void main()
{
    uint lid = gl_LocalInvocationID.x;
    float best = -1.0 / 0.0;
    uint index = NONE;
    uint bad = 0;
    for (uint i = lid; i < p.n; i += gl_WorkGroupSize.x) {
        float v = logits[i];
        bad |= isnan(v) || isinf(v) ? 1u : 0u;
        if (v > best || index == NONE) {   // ascending i: equal values keep the lower index
            best = v;
            index = i;
        }
    }
    // Each subgroup's best (its largest value; among lanes holding it, the lowest index), then the first invocation
    // walks the subgroups' results: gl_NumSubgroups steps, not one per invocation. Bad values make the result moot.
    float sub_best = subgroupMax(index == NONE ? -1.0 / 0.0 : best);
    uint sub_index = subgroupMin(index != NONE && best == sub_best ? index : NONE);
    uint sub_bad = subgroupMax(bad);
    if (subgroupElect()) {
        s_value[gl_SubgroupID] = sub_best;
        s_index[gl_SubgroupID] = sub_index;
        s_bad[gl_SubgroupID] = sub_bad;
    }
    barrier();
    if (lid == 0) {
        best = -1.0 / 0.0;
        index = NONE;
        bad = 0;
        for (uint j = 0; j < gl_NumSubgroups; j++) {
            if (s_index[j] != NONE && (index == NONE || s_value[j] > best || (s_value[j] == best && s_index[j] < index))) {
                best = s_value[j];
                index = s_index[j];
            }
            bad |= s_bad[j];
        }
        tokens[p.slot] = bad != 0 ? NONE : index;
    }
}
