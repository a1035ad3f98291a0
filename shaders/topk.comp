#version 450
// Top-k selection, one chunk of the input per workgroup: the k largest values of elements
// [chunk * wg, chunk * (wg + 1)) with their ids, in (value desc, id asc) order, written to out[wg * k ...].
// Run twice for sampling: over the vocabulary in chunks (ids = positions), then once over the chunks' candidates
// (ids read from the input). Each round finds the best element after the previous pick in that order.
// Chunks keep every invocation's total loop count small: lavapipe ends any invocation's loops after 65535
// iterations in all (LP_MAX_TGSI_LOOP_ITERATIONS), silently.
// A NaN or infinite value is taken as +infinity, so it ranks first and reaches sample.comp, which then writes no token:
// a NaN left as it is compares false with everything and could be kept or dropped depending on where it lies.

#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer InValues { float in_values[]; };
layout(std430, binding = 1) readonly buffer InIds { uint in_ids[]; };
layout(std430, binding = 2) writeonly buffer OutValues { float out_values[]; };
layout(std430, binding = 3) writeonly buffer OutIds { uint out_ids[]; };

layout(push_constant) uniform Push {
    uint n;
    uint k;
    uint chunk;
    uint read_ids;   // 0: an element's id is its position; 1: in_ids[position]
} p;

const uint NONE = 0xFFFFFFFFu;
shared float s_value[2][gl_WorkGroupSize.x];   // per subgroup, double-buffered by round: one barrier per round
shared uint s_id[2][gl_WorkGroupSize.x];

// (va, ia) comes before (vb, ib): larger value, or equal value and lower id
bool before(float va, uint ia, float vb, uint ib)
{
    return va > vb || (va == vb && ia < ib);
}

void main()
{
    uint lid = gl_LocalInvocationID.x;
    uint begin = gl_WorkGroupID.x * p.chunk, end = min(p.n, begin + p.chunk);
    float prev_value = 0.0;
    uint prev_id = NONE;
    for (uint r = 0; r < p.k; r++) {
        float best = 0.0;
        uint id = NONE;
        for (uint i = begin + lid; i < end; i += gl_WorkGroupSize.x) {
            float v = in_values[i];
            v = isnan(v) || isinf(v) ? uintBitsToFloat(0x7F800000u) : v;
            uint e = p.read_ids != 0 ? in_ids[i] : i;
            bool eligible = e != NONE && (r == 0 || before(prev_value, prev_id, v, e));
            if (eligible && (id == NONE || before(v, e, best, id))) {
                best = v;
                id = e;
            }
        }
        // Each subgroup's pick (largest value, then lowest id; values are finite or +inf, so -inf marks none), then
        // every invocation walks the subgroups' picks, the same values in the same order, so all agree on the pick.
        float sub_best = subgroupMax(id == NONE ? -1.0 / 0.0 : best);
        uint sub_id = subgroupMin(id != NONE && best == sub_best ? id : NONE);
        uint buf = r % 2;
        if (subgroupElect()) {
            s_value[buf][gl_SubgroupID] = sub_best;
            s_id[buf][gl_SubgroupID] = sub_id;
        }
        barrier();
        best = 0.0;
        id = NONE;
        for (uint j = 0; j < gl_NumSubgroups; j++) {
            if (s_id[buf][j] != NONE && (id == NONE || before(s_value[buf][j], s_id[buf][j], best, id))) {
                best = s_value[buf][j];
                id = s_id[buf][j];
            }
        }
        if (lid == 0) {
            out_values[gl_WorkGroupID.x * p.k + r] = best;
            out_ids[gl_WorkGroupID.x * p.k + r] = id;   // NONE when the chunk has fewer than k elements
        }
        if (id == NONE) {
            break;   // uniform: every invocation saw the same reduction
        }
        prev_value = best;
        prev_id = id;
    }
}
