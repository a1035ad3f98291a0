#version 450
#extension GL_GOOGLE_include_directive : require
// Prefill Y = X W^T with W in Q4Z (see include/matmul.glsl).
#define FORMAT_Q4Z
#include "matmul.glsl"
