#version 450
#extension GL_GOOGLE_include_directive : require
// Prefill Y = X W^T with W in Q4 (see include/matmul.glsl).
#define FORMAT_Q4
#include "matmul.glsl"
