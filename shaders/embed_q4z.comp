#version 450
#extension GL_GOOGLE_include_directive : require
// Embedding lookup from a Q4Z matrix (see include/embed.glsl).
#define FORMAT_Q4Z
#include "embed.glsl"
