#version 450
// y = W x with W in F32 (see include/matvec.glsl).
#extension GL_GOOGLE_include_directive : require
#define FORMAT_F32
#include "matvec.glsl"
