#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding lookup from a Q4 matrix (see include/embed.glsl).
#define FORMAT_Q4
#include "embed.glsl"
