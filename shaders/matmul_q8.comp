#version 450
#extension GL_GOOGLE_include_directive : require
// Prefill Y = X W^T with W in Q8 (see include/matmul.glsl).
#define FORMAT_Q8
#include "matmul.glsl"
