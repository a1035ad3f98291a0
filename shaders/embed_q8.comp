#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding lookup from a Q8 matrix (see include/embed.glsl).
#define FORMAT_Q8
#include "embed.glsl"
