#version 450
#extension GL_GOOGLE_include_directive : require
// MoE down projection of the routed experts, W in F16 (see include/matvec.glsl).
#define FORMAT_F16
#define MODE_DOWN
#include "matvec.glsl"
