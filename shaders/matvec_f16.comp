#version 450
// y = W x with W in F16 (see include/matvec.glsl).
#extension GL_GOOGLE_include_directive : require
#define FORMAT_F16
#include "matvec.glsl"
