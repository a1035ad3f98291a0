#version 450
// Elementwise c = a (op) b over n floats. OP: 0 add, 1 multiply.
// Grid-stride loop, so any grid size covers any n.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint OP = 0;

layout(std430, binding = 0) readonly buffer A { float a[]; };
layout(std430, binding = 1) readonly buffer B { float b[]; };
layout(std430, binding = 2) writeonly buffer C { float c[]; };

layout(push_constant) uniform Push {
    uint n;
} p;

void main()
{
    uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
    for (uint i = gl_GlobalInvocationID.x; i < p.n; i += stride) {
        c[i] = OP == 0 ? a[i] + b[i] : a[i] * b[i];
    }
}
