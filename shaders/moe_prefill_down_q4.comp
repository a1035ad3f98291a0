#version 450
#extension GL_GOOGLE_include_directive : require
// Prefill MoE down projection grouped by expert, W in Q4 (see include/matmul.glsl).
#define FORMAT_Q4
#define MODE_GATHER_DOWN
#include "matmul.glsl"
