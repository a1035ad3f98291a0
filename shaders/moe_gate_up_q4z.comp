#version 450
#extension GL_GOOGLE_include_directive : require
// MoE gate_up projection of the routed experts, W in Q4Z (see include/matvec.glsl).
#define FORMAT_Q4Z
#define MODE_GATE_UP
#include "matvec.glsl"
