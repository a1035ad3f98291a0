// The texel-buffer bindings of a weight matrix in one format (FORMAT_* defined by the including .comp), bound first:
//   W (binding 0): quants (vec4 texels for F32, uvec4 otherwise); S (1): f16 scales for Q8/Q4/Q4Z; Z (2): Q4Z zero points.
// WEIGHT_TABLES is the number of bindings used; the shader's own bindings follow it.

#if defined(FORMAT_F32)
layout(binding = 0) uniform samplerBuffer W;
#else
layout(binding = 0) uniform usamplerBuffer W;
#endif

#if defined(FORMAT_Q8) || defined(FORMAT_Q4)
layout(binding = 1) uniform samplerBuffer S;
#define WEIGHT_TABLES 2
#elif defined(FORMAT_Q4Z)
layout(binding = 1) uniform samplerBuffer S;
layout(binding = 2) uniform usamplerBuffer Z;
#define WEIGHT_TABLES 3
#else
#define WEIGHT_TABLES 1
#endif

// Texels of W per 32-value block, and 32-value blocks per scale (Q4Z's group is 128).
#if defined(FORMAT_F32)
const uint W_TEXELS_PER_BLOCK = 8;
#elif defined(FORMAT_F16)
const uint W_TEXELS_PER_BLOCK = 4;
#elif defined(FORMAT_Q8)
const uint W_TEXELS_PER_BLOCK = 2;
#else
const uint W_TEXELS_PER_BLOCK = 1;
#endif

#if defined(FORMAT_Q4Z)
const uint BLOCKS_PER_SCALE = 4;
#else
const uint BLOCKS_PER_SCALE = 1;
#endif
