#version 450
#extension GL_GOOGLE_include_directive : require
// Prefill Y = X W^T with W in F32 (see include/matmul.glsl).
#define FORMAT_F32
#include "matmul.glsl"
