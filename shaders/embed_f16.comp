#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding lookup from a F16 matrix (see include/embed.glsl).
#define FORMAT_F16
#include "embed.glsl"
