// Y = X W^T for many tokens (prefill): W [rows, cols] in one weight format (FORMAT_* defined by the including .comp),
// X [tokens][cols] and Y [tokens][rows] in storage buffers, f32 accumulation. Each invocation computes ROWS rows for
// TOKENS tokens: every 32-value block of its rows is dequantized once and used for all TOKENS tokens, whose x block
// the workgroup stages in shared memory. Grid: (row groups, token groups).

#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 8;
layout(constant_id = 2) const uint TOKENS = 8;
layout(constant_id = 3) const bool X_SHARED = true;   // stage x blocks in shared memory; false: read the buffer directly

#include "weights.glsl"

layout(std430, binding = WEIGHT_TABLES) readonly buffer Xm { vec4 x4[]; };
layout(std430, binding = WEIGHT_TABLES + 1) buffer Ym { float y[]; };

layout(push_constant) uniform Push {
    uint rows;
    uint cols;
    uint tokens;
    uint w_offset;     // first texel of this matrix in W (stacked matrices)
    uint s_offset;     // first scale (and zero point)
    uint accumulate;   // 1: Y += X W^T
} p;

shared vec4 s_x[X_SHARED ? TOKENS : 1][8];

#if defined(FORMAT_F32)
const uint W_TEXELS_PER_BLOCK = 8;
#elif defined(FORMAT_F16)
const uint W_TEXELS_PER_BLOCK = 4;
#elif defined(FORMAT_Q8)
const uint W_TEXELS_PER_BLOCK = 2;
#else
const uint W_TEXELS_PER_BLOCK = 1;
#endif

// The 32 weights of block b of a row, as 8 vec4.
void dequant_block(int w_row, int s_row, uint b, out vec4 w[8])
{
#if defined(FORMAT_F32)
    for (int i = 0; i < 8; i++) {
        w[i] = texelFetch(W, w_row + int(b) * 8 + i);
    }
#elif defined(FORMAT_F16)
    for (int i = 0; i < 4; i++) {
        uvec4 q = texelFetch(W, w_row + int(b) * 4 + i);
        w[2 * i] = vec4(unpackHalf2x16(q.x), unpackHalf2x16(q.y));
        w[2 * i + 1] = vec4(unpackHalf2x16(q.z), unpackHalf2x16(q.w));
    }
#elif defined(FORMAT_Q8)
    float d = texelFetch(S, s_row + int(b)).r;
    for (int i = 0; i < 2; i++) {
        ivec4 q = ivec4(texelFetch(W, w_row + int(b) * 2 + i));
        for (int c = 0; c < 4; c++) {
            w[4 * i + c] = vec4((ivec4(q[c]) << ivec4(24, 16, 8, 0)) >> 24) * d;
        }
    }
#else
    uvec4 q = texelFetch(W, w_row + int(b));
#if defined(FORMAT_Q4)
    float d = texelFetch(S, s_row + int(b)).r, z = 8.0;
#else
    int g = s_row + int(b / 4);
    float d = texelFetch(S, g).r, z = float(texelFetch(Z, g).r);
#endif
    for (int c = 0; c < 4; c++) {
        w[2 * c] = (vec4((uvec4(q[c]) >> uvec4(0, 4, 8, 12)) & 15u) - z) * d;
        w[2 * c + 1] = (vec4((uvec4(q[c]) >> uvec4(16, 20, 24, 28)) & 15u) - z) * d;
    }
#endif
}

void main()
{
    uint blocks = p.cols / 32;
    uint first_row = (gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * ROWS;
    uint first_token = gl_WorkGroupID.y * TOKENS;
#if defined(FORMAT_Q4Z)
    uint scales_per_row = blocks / 4;
#else
    uint scales_per_row = blocks;
#endif

    float acc[ROWS][TOKENS];
    for (uint r = 0; r < ROWS; r++) {
        for (uint t = 0; t < TOKENS; t++) {
            acc[r][t] = 0.0;
        }
    }

    for (uint b = 0; b < blocks; b++) {
        // Stage block b of x for this workgroup's tokens (tokens past the end read as zeros).
        if (X_SHARED) {
            barrier();
            for (uint i = gl_LocalInvocationID.x; i < TOKENS * 8; i += gl_WorkGroupSize.x) {
                uint t = i / 8, token = first_token + t;
                s_x[t][i % 8] = token < p.tokens ? x4[token * (p.cols / 4) + b * 8 + i % 8] : vec4(0.0);
            }
            barrier();
        }
        for (uint r = 0; r < ROWS; r++) {
            uint row = min(first_row + r, p.rows - 1);   // rows past the end repeat the last; never stored
            vec4 w[8];
            dequant_block(int(p.w_offset + row * blocks * W_TEXELS_PER_BLOCK), int(p.s_offset + row * scales_per_row), b, w);
            for (uint t = 0; t < TOKENS; t++) {
                uint token = min(first_token + t, p.tokens - 1);   // tokens past the end repeat the last; never stored
                float s = 0.0;
                for (int i = 0; i < 8; i++) {
                    s += dot(w[i], X_SHARED ? s_x[t][i] : x4[token * (p.cols / 4) + b * 8 + i]);
                }
                acc[r][t] += s;
            }
        }
    }

    for (uint t = 0; t < TOKENS; t++) {
        uint token = first_token + t;
        for (uint r = 0; r < ROWS; r++) {
            uint row = first_row + r;
            if (token < p.tokens && row < p.rows) {
                uint at = token * p.rows + row;
                y[at] = p.accumulate != 0 ? y[at] + acc[r][t] : acc[r][t];
            }
        }
    }
}
