// A weight matrix in one device format (FORMAT_* defined by the build for each variant): its texel-buffer bindings,
// bound first, and its one dequantisation, which matvec, matmul and embed all use.
//   W (binding 0): quants (vec4 texels for F32, uvec4 otherwise); S (1): f16 scales for Q8/Q4/Q4Z; Z (2): Q4Z zero points.
// WEIGHT_TABLES is the number of bindings used; the shader's own bindings follow it.
//
// W is [rows, cols] row-major, cols a multiple of 32, read in blocks of 32 values:
//   F32: 8 vec4 texels | F16: 4 uvec4 (8 halves each) | Q8: 2 uvec4 (16 int8 each), f16 scale per block
//   Q4: 1 uvec4 (32 nibbles, value k at bits 4*(k%8) of word k/8), f16 scale per block, zero 8
//   Q4Z: as Q4, with an f16 scale and a zero point per 4 blocks (group 128)
// Every format reads as w = (q - block_zero) * block_scale, q the block's 32 raw values from block_values, so a kernel
// may fold the zero and the scale in after its dot product (matvec) or apply them per value (matmul, embed).
// w_row: the row's first quant texel; s_row: its first scale.
#ifndef WEIGHTS_GLSL
#define WEIGHTS_GLSL

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
#elif defined(FORMAT_F32) || defined(FORMAT_F16)
#define WEIGHT_TABLES 1
#else
#error "weights.glsl: no FORMAT_* defined"
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

// vec4s of values per 16-byte texel of W: the unit one GPU lane loads (F32 1, F16 2, Q8 4, Q4/Q4Z 8).
const uint W_VEC4_PER_TEXEL = 8 / W_TEXELS_PER_BLOCK;

// Texel t of W as it is stored (F32's vec4 as its bits): what a kernel may stage in shared memory.
uvec4 raw_texel(int t)
{
#if defined(FORMAT_F32)
    return floatBitsToUint(texelFetch(W, t));
#else
    return texelFetch(W, t);
#endif
}

// The raw values of one stored texel, in order.
void decode_texel(uvec4 w, out vec4 q[W_VEC4_PER_TEXEL])
{
#if defined(FORMAT_F32)
    q[0] = uintBitsToFloat(w);
#elif defined(FORMAT_F16)
    q[0] = vec4(unpackHalf2x16(w.x), unpackHalf2x16(w.y));
    q[1] = vec4(unpackHalf2x16(w.z), unpackHalf2x16(w.w));
#elif defined(FORMAT_Q8)
    for (int c = 0; c < 4; c++) {
        q[c] = vec4((ivec4(w[c]) << ivec4(24, 16, 8, 0)) >> 24);   // four int8, sign-extended
    }
#else
    for (int c = 0; c < 4; c++) {
        q[2 * c] = vec4((uvec4(w[c]) >> uvec4(0, 4, 8, 12)) & 15u);
        q[2 * c + 1] = vec4((uvec4(w[c]) >> uvec4(16, 20, 24, 28)) & 15u);
    }
#endif
}

// The raw values of texel t of W, in order.
void texel_values(int t, out vec4 q[W_VEC4_PER_TEXEL])
{
    decode_texel(raw_texel(t), q);
}

// The 32 raw values of block b of a row, as 8 vec4 in order.
void block_values(int w_row, uint b, out vec4 q[8])
{
    int t = w_row + int(b * W_TEXELS_PER_BLOCK);
    for (uint k = 0; k < W_TEXELS_PER_BLOCK; k++) {
        vec4 part[W_VEC4_PER_TEXEL];
        texel_values(t + int(k), part);
        for (uint i = 0; i < W_VEC4_PER_TEXEL; i++) {
            q[k * W_VEC4_PER_TEXEL + i] = part[i];
        }
    }
}

// The scale of block b of a row.
float block_scale(int s_row, uint b)
{
#if defined(FORMAT_F32) || defined(FORMAT_F16)
    return 1.0;
#else
    return texelFetch(S, s_row + int(b / BLOCKS_PER_SCALE)).r;
#endif
}

// The zero point of block b of a row.
float block_zero(int s_row, uint b)
{
#if defined(FORMAT_Q4)
    return 8.0;
#elif defined(FORMAT_Q4Z)
    return float(texelFetch(Z, s_row + int(b / BLOCKS_PER_SCALE)).r);
#else
    return 0.0;
#endif
}

// The 32 weights of block b of a row, dequantized.
void dequant_block(int w_row, int s_row, uint b, out vec4 w[8])
{
    block_values(w_row, b, w);
    float d = block_scale(s_row, b), z = block_zero(s_row, b);
    for (int i = 0; i < 8; i++) {
        w[i] = (w[i] - z) * d;
    }
}

#endif
