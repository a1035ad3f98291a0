// Y = X W^T for many tokens (prefill): W [rows, cols] in one weight format of weights.glsl (compiled once per format
// and mode, shaders/Shaders.targets), X [tokens][cols] and Y [tokens][rows] in storage buffers, f32 accumulation. Each invocation computes ROWS rows for
// TOKENS tokens: every 32-value block of its rows is dequantized once and used for all TOKENS tokens, whose x block
// the workgroup stages in shared memory (or reads directly). Grid: (row groups, token groups). With W_TILE (GPUs) the
// workgroup also stages its rows' weights, 64 contiguous bytes of each row per step, so the loads are coalesced and
// each weight byte is read from memory once per token tile.
// Grouped MoE modes (prefill), grid z = expert (the shared expert last; first_expert + z for a part of a split stack), its tokens listed by moe_group.comp:
//   MODE_GATHER_GATE_UP  x rows are the listed tokens; rows interleave gate and up; y[entry][i] = silu(g_i) * u_i
//   MODE_GATHER_DOWN     x rows are the entries' activations; y[entry][r] is the entry's partial (moe_scatter.comp)

#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 8;
layout(constant_id = 2) const uint TOKENS = 8;
layout(constant_id = 3) const bool X_SHARED = true;   // stage x blocks in shared memory; false: read the buffer directly
layout(constant_id = 4) const bool W_TILE = false;    // GPUs: the workgroup stages a coalesced tile of W (and of x)

#include "weights.glsl"
#include "limits.glsl"

layout(std430, binding = WEIGHT_TABLES) readonly buffer Xm { vec4 x4[]; };
layout(std430, binding = WEIGHT_TABLES + 1) buffer Ym { float y[]; };
#if defined(MODE_GATHER_GATE_UP) || defined(MODE_GATHER_DOWN)
#define GATHER 1
layout(std430, binding = WEIGHT_TABLES + 2) readonly buffer Group { uint counts[MAX_EXPERT_GROUPS]; uint offsets[MAX_EXPERT_GROUPS]; } group_;
#endif
#if defined(MODE_GATHER_GATE_UP)
layout(std430, binding = WEIGHT_TABLES + 3) readonly buffer Entries { uint entry_token[]; };
#endif

layout(push_constant) uniform Push {
    uint rows;
    uint cols;
    uint tokens;       // plain: tokens in X and Y
    uint w_offset;     // first texel of this matrix in W (stacked matrices)
    uint s_offset;     // first scale (and zero point)
    uint accumulate;   // 1: Y += X W^T
    uint w_stride;     // grouped: texels from one expert to the next
    uint s_stride;     // grouped: scales from one expert to the next
    uint first_expert; // grouped: the stack index of W's first expert, grid z = 0 (a split stack: one dispatch per part)
} p;

float silu(float v)
{
    return v / (1.0 + exp(-v));
}

shared vec4 s_x[X_SHARED && !W_TILE ? TOKENS : 1][8];

// W_TILE: per step the workgroup's rows x TILE_TEXELS texels of W (64 contiguous bytes of each row, two 32-byte
// sectors, loaded by consecutive invocations; F32's block is 128) and the tokens' matching x, TILE_BLOCKS blocks.
const uint TILE_TEXELS = W_TEXELS_PER_BLOCK > 4 ? W_TEXELS_PER_BLOCK : 4;
const uint TILE_BLOCKS = TILE_TEXELS / W_TEXELS_PER_BLOCK;   // F32 1, F16 1, Q8 2, Q4/Q4Z 4
shared uvec4 s_w[W_TILE ? gl_WorkGroupSize.x * ROWS : 1][TILE_TEXELS];
shared vec4 s_xt[W_TILE ? TOKENS : 1][TILE_BLOCKS * 8];

void main()
{
    uint blocks = p.cols / 32;
    uint first_row = (gl_WorkGroupID.x * gl_WorkGroupSize.x + gl_LocalInvocationID.x) * ROWS;
    uint w_offset = p.w_offset, s_offset = p.s_offset;
#ifdef GATHER
    uint expert = p.first_expert + gl_WorkGroupID.z;
    uint count = group_.counts[expert], list = group_.offsets[expert];
    uint first = gl_WorkGroupID.y * TOKENS;   // index into the expert's list
    if (first >= count) {
        return;   // uniform: this tile is past the expert's tokens
    }
    uint n = count;
    w_offset += gl_WorkGroupID.z * p.w_stride;
    s_offset += gl_WorkGroupID.z * p.s_stride;
#else
    uint first = gl_WorkGroupID.y * TOKENS;
    uint n = p.tokens;
#endif
    uint scales_per_row = blocks / BLOCKS_PER_SCALE;

    // The X row of each of this tile's tokens (past the end: repeat the last; never stored).
    uint x_row[TOKENS];
    for (uint t = 0; t < TOKENS; t++) {
        uint j = min(first + t, n - 1);
#if defined(MODE_GATHER_GATE_UP)
        x_row[t] = entry_token[list + j];
#elif defined(MODE_GATHER_DOWN)
        x_row[t] = list + j;
#else
        x_row[t] = j;
#endif
    }

    float acc[ROWS][TOKENS];
    for (uint r = 0; r < ROWS; r++) {
        for (uint t = 0; t < TOKENS; t++) {
            acc[r][t] = 0.0;
        }
    }

    if (W_TILE) {
        uint tile_rows = gl_WorkGroupSize.x * ROWS, row0 = gl_WorkGroupID.x * tile_rows, lid = gl_LocalInvocationID.x;
        for (uint b0 = 0; b0 < blocks; b0 += TILE_BLOCKS) {
            uint nb = min(TILE_BLOCKS, blocks - b0);
            barrier();
            for (uint k = lid; k < tile_rows * TILE_TEXELS; k += gl_WorkGroupSize.x) {
                uint r = k / TILE_TEXELS, c = k % TILE_TEXELS;
                if (c < nb * W_TEXELS_PER_BLOCK) {
                    uint row = min(row0 + r, p.rows - 1);
                    s_w[r][c] = raw_texel(int(w_offset + (row * blocks + b0) * W_TEXELS_PER_BLOCK + c));
                }
            }
            for (uint k = lid; k < TOKENS * TILE_BLOCKS * 8; k += gl_WorkGroupSize.x) {
                uint t = k / (TILE_BLOCKS * 8), v = k % (TILE_BLOCKS * 8);
                if (v < nb * 8) {
                    s_xt[t][v] = x4[x_row[t] * (p.cols / 4) + b0 * 8 + v];
                }
            }
            barrier();
            for (uint bb = 0; bb < nb; bb++) {
                uint b = b0 + bb;
                for (uint r = 0; r < ROWS; r++) {
                    uint row = min(first_row + r, p.rows - 1);
                    int s_row = int(s_offset + row * scales_per_row);
                    float d = block_scale(s_row, b), z = block_zero(s_row, b);
                    vec4 w[8];
                    for (uint k = 0; k < W_TEXELS_PER_BLOCK; k++) {
                        vec4 part[W_VEC4_PER_TEXEL];
                        decode_texel(s_w[lid * ROWS + r][bb * W_TEXELS_PER_BLOCK + k], part);
                        for (uint i = 0; i < W_VEC4_PER_TEXEL; i++) {
                            w[k * W_VEC4_PER_TEXEL + i] = (part[i] - z) * d;
                        }
                    }
                    for (uint t = 0; t < TOKENS; t++) {
                        float s = 0.0;
                        for (int i = 0; i < 8; i++) {
                            s += dot(w[i], s_xt[t][bb * 8 + i]);
                        }
                        acc[r][t] += s;
                    }
                }
            }
        }
    } else {
        for (uint b = 0; b < blocks; b++) {
            if (X_SHARED) {
                barrier();
                for (uint i = gl_LocalInvocationID.x; i < TOKENS * 8; i += gl_WorkGroupSize.x) {
                    s_x[i / 8][i % 8] = x4[x_row[i / 8] * (p.cols / 4) + b * 8 + i % 8];
                }
                barrier();
            }
            for (uint r = 0; r < ROWS; r++) {
                uint row = min(first_row + r, p.rows - 1);   // rows past the end repeat the last; never stored
                vec4 w[8];
                dequant_block(int(w_offset + row * blocks * W_TEXELS_PER_BLOCK), int(s_offset + row * scales_per_row), b, w);
                for (uint t = 0; t < TOKENS; t++) {
                    float s = 0.0;
                    for (int i = 0; i < 8; i++) {
                        s += dot(w[i], X_SHARED ? s_x[t][i] : x4[x_row[t] * (p.cols / 4) + b * 8 + i]);
                    }
                    acc[r][t] += s;
                }
            }
        }
    }

    for (uint t = 0; t < TOKENS; t++) {
        if (first + t >= n) {
            break;
        }
#if defined(MODE_GATHER_GATE_UP)
        uint entry = list + first + t;
        for (uint r = 0; r + 1 < ROWS; r += 2) {   // ROWS is even: (gate, up) pairs
            uint row = first_row + r;
            if (row + 1 < p.rows) {
                y[entry * (p.rows / 2) + row / 2] = silu(acc[r][t]) * acc[r + 1][t];
            }
        }
#else
#if defined(MODE_GATHER_DOWN)
        uint out_row = list + first + t;
#else
        uint out_row = first + t;
#endif
        for (uint r = 0; r < ROWS; r++) {
            uint row = first_row + r;
            if (row < p.rows) {
                uint at = out_row * p.rows + row;
                y[at] = p.accumulate != 0 ? y[at] + acc[r][t] : acc[r][t];
            }
        }
#endif
    }
}
