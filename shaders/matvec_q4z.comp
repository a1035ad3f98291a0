#version 450
// y = W x with W in Q4Z (see include/matvec.glsl).
#extension GL_GOOGLE_include_directive : require
#define FORMAT_Q4Z
#include "matvec.glsl"
