// Embedding lookup: out[t][k] = E[tokens[t]][k], dequantized from the format of the embedding matrix (the same
// DeviceMatrix that serves as the tied lm_head), compiled once per format (shaders/Shaders.targets).
// Grid: (blocks of 32 values per invocation, tokens).

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
    vec4 w[8];
    dequant_block(int(row * blocks * W_TEXELS_PER_BLOCK), int(row * (blocks / BLOCKS_PER_SCALE)), b, w);
    uint out_at = t * p.cols + b * 32;
    for (int i = 0; i < 8; i++) {
        for (int c = 0; c < 4; c++) {
            o[out_at + 4 * i + c] = w[i][c];
        }
    }
}
