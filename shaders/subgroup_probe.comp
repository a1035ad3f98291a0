#version 450
// What the device's subgroups really are: per invocation, the subgroup size the shader sees, how many invocations a
// subgroupAdd covers, and the subgroup id and lane it is given. SubgroupProbe compares them with the size the device
// reports (lavapipe at LP_NATIVE_VECTOR_WIDTH=1024 says 32 where its subgroup operations cover 16).
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) writeonly buffer Out { uvec4 o[]; };   // [invocations]: size, add(1), subgroup id, lane

layout(push_constant) uniform Push {
    uint n;   // invocations in the workgroup
} p;

void main()
{
    uint i = gl_LocalInvocationID.x;
    uint covered = uint(subgroupAdd(1.0));
    if (i < p.n) {
        o[i] = uvec4(gl_SubgroupSize, covered, gl_SubgroupID, gl_SubgroupInvocationID);
    }
}
