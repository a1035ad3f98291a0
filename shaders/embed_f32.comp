#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding lookup from a F32 matrix (see include/embed.glsl).
#define FORMAT_F32
#include "embed.glsl"
