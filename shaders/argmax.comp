#version 450
#extension GL_GOOGLE_include_directive : require
// Greedy sampling: the index of the largest logit (the lowest index among equals), written to tokens[slot] so the
// next step's embedding reads it on the GPU, with no host round-trip. One workgroup. A NaN or infinite logit anywhere
// writes 0xFFFFFFFF instead (no token): the host stops with an error rather than decode garbage.

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Logits { float logits[]; };
layout(std430, binding = 1) buffer Tokens { uint tokens[]; };

layout(push_constant) uniform Push {
    uint n;
    uint slot;
} p;

shared float s_value[gl_WorkGroupSize.x];
shared uint s_index[gl_WorkGroupSize.x];
shared uint s_bad[gl_WorkGroupSize.x];

void main()
{
    uint lid = gl_LocalInvocationID.x;
    float best = -1.0 / 0.0;
    uint index = 0xFFFFFFFFu;
    uint bad = 0;
    for (uint i = lid; i < p.n; i += gl_WorkGroupSize.x) {
        float v = logits[i];
        bad |= isnan(v) || isinf(v) ? 1u : 0u;
        if (v > best || index == 0xFFFFFFFFu) {   // ascending i: equal values keep the lower index
            best = v;
            index = i;
        }
    }
    s_value[lid] = best;
    s_index[lid] = index;
    s_bad[lid] = bad;
    barrier();
    if (lid == 0) {
        for (uint j = 1; j < gl_WorkGroupSize.x; j++) {
            if (s_value[j] > best || (s_value[j] == best && s_index[j] < index)) {
                best = s_value[j];
                index = s_index[j];
            }
            bad |= s_bad[j];
        }
        tokens[p.slot] = bad != 0 ? 0xFFFFFFFFu : index;
    }
}
