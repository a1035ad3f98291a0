// Shared by every kernel: extensions and the workgroup-wide sum.
// Include after the kernel's `layout(local_size_x_id = 0) in;` so gl_WorkGroupSize is known.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

// One slot per subgroup; sized by the (specialized) workgroup size, which bounds the subgroup count.
shared float s_reduce[gl_WorkGroupSize.x];

// Sum of v over the whole workgroup, returned to every invocation. Call from uniform control flow.
// With one subgroup per workgroup (lavapipe, small GPU workgroups) it is a single subgroupAdd, no barrier.
float workgroup_sum(float v)
{
    v = subgroupAdd(v);
    if (gl_NumSubgroups == 1) {
        return v;
    }
    if (subgroupElect()) {
        s_reduce[gl_SubgroupID] = v;
    }
    barrier();
    float total = 0.0;
    for (uint i = 0; i < gl_NumSubgroups; i++) {
        total += s_reduce[i];
    }
    barrier();
    return total;
}

// Maximum of v over the whole workgroup, returned to every invocation. Call from uniform control flow.
float workgroup_max(float v)
{
    v = subgroupMax(v);
    if (gl_NumSubgroups == 1) {
        return v;
    }
    if (subgroupElect()) {
        s_reduce[gl_SubgroupID] = v;
    }
    barrier();
    float m = s_reduce[0];
    for (uint i = 1; i < gl_NumSubgroups; i++) {
        m = max(m, s_reduce[i]);
    }
    barrier();
    return m;
}
