#version 450
#extension GL_GOOGLE_include_directive : require
// Prefill MoE down projection grouped by expert, W in F32 (see include/matmul.glsl).
#define FORMAT_F32
#define MODE_GATHER_DOWN
#include "matmul.glsl"
