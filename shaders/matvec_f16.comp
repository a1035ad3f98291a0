#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
// y = W x: W [rows, cols] f16 row-major, x [cols] f32, y [rows] f32, f32 accumulation.
// Each workgroup computes ROWS consecutive rows; its invocations split the columns, then sum.

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 4;
#include "common.glsl"

layout(std430, binding = 0) readonly buffer Wt { float16_t w[]; };
layout(std430, binding = 1) readonly buffer Xv { float x[]; };
layout(std430, binding = 2) writeonly buffer Yv { float y[]; };

layout(push_constant) uniform Push {
    uint rows;
    uint cols;
} p;

void main()
{
    uint first = gl_WorkGroupID.x * ROWS;
    float acc[ROWS];
    for (uint r = 0; r < ROWS; r++) {
        acc[r] = 0.0;
    }
    for (uint k = gl_LocalInvocationID.x; k < p.cols; k += gl_WorkGroupSize.x) {
        float xk = x[k];
        for (uint r = 0; r < ROWS; r++) {
            uint row = min(first + r, p.rows - 1);   // rows past the end repeat the last row; never stored
            acc[r] += float(w[row * p.cols + k]) * xk;
        }
    }
    for (uint r = 0; r < ROWS; r++) {
        float sum = workgroup_sum(acc[r]);
        if (gl_LocalInvocationID.x == 0 && first + r < p.rows) {
            y[first + r] = sum;
        }
    }
}
