#version 450
#extension GL_GOOGLE_include_directive : require
// Prefill Y = X W^T with W in F16 (see include/matmul.glsl).
#define FORMAT_F16
#include "matmul.glsl"
