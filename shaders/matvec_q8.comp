#version 450
// y = W x with W in Q8 (see include/matvec.glsl).
#extension GL_GOOGLE_include_directive : require
#define FORMAT_Q8
#include "matvec.glsl"
