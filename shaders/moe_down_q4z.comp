#version 450
#extension GL_GOOGLE_include_directive : require
// MoE down projection of the routed experts, W in Q4Z (see include/matvec.glsl).
#define FORMAT_Q4Z
#define MODE_DOWN
#include "matvec.glsl"
