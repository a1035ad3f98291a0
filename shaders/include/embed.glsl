// Embedding lookup: out[t][k] = E[tokens[t]][k], dequantized from the format of the embedding matrix (the same
// DeviceMatrix that serves as the tied lm_head). The including .comp defines FORMAT_*. Grid: (blocks of 32 values
// per invocation, tokens).

#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;

#include "weights.glsl"
#define NEXT WEIGHT_TABLES

layout(std430, binding = NEXT) readonly buffer Tokens { uint tokens[]; };
layout(std430, binding = NEXT + 1) writeonly buffer Out { float o[]; };

layout(push_constant) uniform Push {
    uint cols;
    uint token_offset;   // first entry of tokens to read
} p;

void main()
{
    uint b = gl_GlobalInvocationID.x, t = gl_WorkGroupID.y;
    uint blocks = p.cols / 32;
    if (b >= blocks) {
        return;
    }
    uint row = tokens[p.token_offset + t];
    uint out_at = t * p.cols + b * 32;
#if defined(FORMAT_F32)
    for (int i = 0; i < 8; i++) {
        vec4 v = texelFetch(W, int((row * blocks + b) * 8) + i);
        for (int c = 0; c < 4; c++) {
            o[out_at + 4 * i + c] = v[c];
        }
    }
#elif defined(FORMAT_F16)
    for (int i = 0; i < 4; i++) {
        uvec4 q = texelFetch(W, int((row * blocks + b) * 4) + i);
        for (int c = 0; c < 4; c++) {
            vec2 v = unpackHalf2x16(q[c]);
            o[out_at + 8 * i + 2 * c] = v.x;
            o[out_at + 8 * i + 2 * c + 1] = v.y;
        }
    }
#elif defined(FORMAT_Q8)
    float scale = texelFetch(S, int(row * blocks + b)).r;
    for (int i = 0; i < 2; i++) {
        ivec4 q = ivec4(texelFetch(W, int((row * blocks + b) * 2) + i));
        for (int j = 0; j < 16; j++) {
            o[out_at + 16 * i + j] = float((q[j / 4] << (24 - 8 * (j % 4))) >> 24) * scale;
        }
    }
#else
    uvec4 q = texelFetch(W, int(row * blocks + b));
#if defined(FORMAT_Q4)
    float scale = texelFetch(S, int(row * blocks + b)).r;
    float zero = 8.0;
#else
    int g = int(row * (blocks / 4) + b / 4);
    float scale = texelFetch(S, g).r;
    float zero = float(texelFetch(Z, g).r);
#endif
    for (int j = 0; j < 32; j++) {
        o[out_at + j] = (float((q[j / 8] >> (4 * (j % 8))) & 15u) - zero) * scale;
    }
#endif
}
