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
