// y = W x for one weight format, f32 accumulation. The build compiles it once per format (FORMAT_*) and mode
// (shaders/Shaders.targets):
//   (none)        y[y_offset + r] (+)= (W x)[r]
//   MODE_GATE_UP  MoE gate/up: grid y = routing slot; W is the slot's expert (ids from the routing buffer), rows
//                 interleave gate and up (row 2i = gate_i, 2i + 1 = up_i); writes y[slot * rows/2 + i] = silu(g) * u.
//                 With ROUTE (decode on GPU rows) every subgroup routes the token itself from the router logits
//                 (include/routing.glsl), and workgroup (0, 0) stores the route for the down product and the combine:
//                 one dispatch and one barrier fewer a layer than a moe_route pass.
//   MODE_DOWN     MoE down: grid y = slot; x is act[slot] (a storage buffer: all slots do not fit a uniform
//                 buffer); writes the slot's partial y[slot * rows + r]; moe_combine.comp weights and sums them.
//
// W is [rows, cols] row-major in one of the formats of weights.glsl.
// x comes from a uniform buffer (as vec4). Each invocation owns ROWS rows; LANES invocations share them (LANES = 1:
// one invocation walks whole rows a block at a time, x reads are uniform: what suits lavapipe; LANES = subgroup size:
// the lanes of a subgroup read a row's 16-byte texels side by side, coalesced for every format, and sum with
// subgroupAdd: what suits GPUs, with x staged in shared memory when X_SHARED_VEC4 > 0, sized for the matrix's cols / 4).

#extension GL_GOOGLE_include_directive : require

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint ROWS = 4;
layout(constant_id = 2) const uint LANES = 1;
layout(constant_id = 3) const uint X_SHARED_VEC4 = 0;   // 0: read x from the uniform buffer directly

#include "common.glsl"
#include "limits.glsl"

#include "weights.glsl"
#define BINDING_X WEIGHT_TABLES

#if defined(MODE_DOWN)
layout(std430, binding = BINDING_X) readonly buffer Xv { vec4 x4[]; };
#else
layout(std140, binding = BINDING_X) uniform Xv { vec4 x4[MAX_COLS / 4]; };
#endif
layout(std430, binding = BINDING_X + 1) buffer Yv { float y[]; };
#if defined(MODE_GATE_UP)
#define ROUTED 1
layout(constant_id = 4) const bool ROUTE = false;   // route here (needs full subgroups: LANES > 1); else read the routing buffer
layout(std430, binding = BINDING_X + 2) buffer Routing { Route route; };   // written only with ROUTE
layout(std430, binding = BINDING_X + 3) readonly buffer RouterLogits { float router_logits[]; };   // read only with ROUTE
#elif defined(MODE_DOWN)
#define ROUTED 1
layout(std430, binding = BINDING_X + 2) readonly buffer Routing { Route route; };
#endif

layout(push_constant) uniform Push {
    uint rows;
    uint cols;
    uint w_offset;      // first texel of W (lets one view serve many matrices, e.g. stacked experts)
    uint s_offset;      // first scale (and zero point) of this matrix
    uint y_offset;      // first output element
    uint accumulate;    // 1: y += W x (residual add fused), 0: y = W x
    uint w_stride;      // routed: texels from one expert to the next
    uint s_stride;      // routed: scales from one expert to the next
    uint first_expert;  // routed: the stack index of W's first expert (a stack split in parts: one dispatch each)
    uint experts;       // routed: experts W holds; slots routed to others are another part's
    uint route_experts; // ROUTE: the routed experts, top k, shared experts (0 or 1), renormalise (0 or 1), scaling
    uint top_k;
    uint shared_experts;
    uint norm_topk;
    float scaling;
} p;

#if defined(MODE_GATE_UP)
float router_logit(uint e)
{
    return router_logits[e];
}

#include "routing.glsl"
#endif

const bool X_SHARED = X_SHARED_VEC4 > 0;
shared vec4 s_x[X_SHARED ? X_SHARED_VEC4 : 1];

uint x_base = 0;   // MODE_DOWN: the slot's activation vector, in vec4

// x is staged "by texel column": vec4 i of W texel t's span of x (x vec4 t * W_VEC4_PER_TEXEL + i) sits at
// s_x[i * texels + t], texels = cols / 4 / W_VEC4_PER_TEXEL. Lane t of the split path then reads s_x[i * texels + t]
// while its neighbours read t - 1 and t + 1: side by side, no two lanes of a 128-byte phase on one bank. (x in its own
// order put neighbouring lanes W_VEC4_PER_TEXEL vec4s apart: 8-way bank conflicts for Q4 and Q4Z, 4-way for Q8.)
uint staged(uint j)
{
    uint texels = p.cols / (4 * W_VEC4_PER_TEXEL);
    return (j % W_VEC4_PER_TEXEL) * texels + j / W_VEC4_PER_TEXEL;
}

vec4 xv(uint j)
{
    return X_SHARED ? s_x[staged(j)] : x4[x_base + j];
}

float silu(float v)
{
    return v / (1.0 + exp(-v));
}

// One block of x (32 values as 8 vec4) and its sum, loaded once and used for every row.
struct XBlock {
    vec4 v[8];
    float sum;
};

XBlock load_x(uint b)
{
    XBlock x;
    vec4 total = vec4(0.0);
    for (int i = 0; i < 8; i++) {
        x.v[i] = xv(b * 8 + i);
        total += x.v[i];
    }
    x.sum = total.x + total.y + total.z + total.w;
    return x;
}

// Block b of a row (32 values) dotted with x: the raw values' dot product, then the zero (through x's sum) and the
// scale, once per block.
float block_dot(int w_row, int s_row, uint b, XBlock x)
{
    vec4 q[8];
    block_values(w_row, b, q);
    float s = 0.0;
    for (int i = 0; i < 8; i++) {
        s += dot(q[i], x.v[i]);
    }
    return (s - block_zero(s_row, b) * x.sum) * block_scale(s_row, b);
}


void main()
{
    uint blocks = p.cols / 32;
    uint w_offset = p.w_offset, s_offset = p.s_offset;
#ifdef ROUTED
    uint slot = gl_WorkGroupID.y;
    uint id;
#if defined(MODE_GATE_UP)
    if (ROUTE) {
        // Each subgroup routes alike (uniform control flow; full subgroups of LANES); part 0's first workgroup stores it.
        Route r = route_token(RouteParams(p.route_experts, p.top_k, p.shared_experts, p.norm_topk != 0, p.scaling), gl_SubgroupInvocationID, gl_SubgroupSize);
        if (p.first_expert == 0 && gl_WorkGroupID.x == 0 && slot == 0 && gl_LocalInvocationID.x == 0) {
            route = r;
        }
        id = r.ids[slot];
    } else {
        id = route.ids[slot];
    }
#else
    id = route.ids[slot];
#endif
    uint expert = id - p.first_expert;   // below first_expert: wraps past experts
    if (expert >= p.experts) {
        return;   // uniform: the whole workgroup has this slot, held by another part of the stack
    }
    w_offset += expert * p.w_stride;
    s_offset += expert * p.s_stride;
#endif
#ifdef MODE_DOWN
    x_base = slot * (p.cols / 4);
#endif
    if (X_SHARED) {
        // Invocations write neighbouring slots of s_x (see staged()); the reads of x stride by W_VEC4_PER_TEXEL.
        uint texels = p.cols / (4 * W_VEC4_PER_TEXEL);
        for (uint d = gl_LocalInvocationID.x; d < p.cols / 4; d += gl_WorkGroupSize.x) {
            s_x[d] = x4[x_base + (d % texels) * W_VEC4_PER_TEXEL + d / texels];
        }
        barrier();
    }

    // With LANES > 1 a row group is one subgroup (the pipeline requires full subgroups of LANES invocations), so lane
    // and group come from the subgroup built-ins: Vulkan guarantees no mapping from gl_LocalInvocationID to subgroups.
    uint group = LANES == 1 ? gl_LocalInvocationID.x : gl_SubgroupID;
    uint lane = LANES == 1 ? 0 : gl_SubgroupInvocationID;
    uint first = (gl_WorkGroupID.x * (gl_WorkGroupSize.x / LANES) + group) * ROWS;

    float acc[ROWS];
    int w_row[ROWS];
    int s_row[ROWS];
    for (uint r = 0; r < ROWS; r++) {
        uint row = min(first + r, p.rows - 1);   // rows past the end repeat the last; never stored
        acc[r] = 0.0;
        w_row[r] = int(w_offset + row * blocks * W_TEXELS_PER_BLOCK);
        s_row[r] = int(s_offset + row * (blocks / BLOCKS_PER_SCALE));
    }
    if (LANES == 1) {
        for (uint b = 0; b < blocks; b++) {
            XBlock x = load_x(b);
            for (uint r = 0; r < ROWS; r++) {
                acc[r] += block_dot(w_row[r], s_row[r], b, x);
            }
        }
    } else {
        // Lane i reads texels i, i + LANES, ... of each row: 16 contiguous bytes per lane, a subgroup's loads side by
        // side, whatever the format (a block is 1 to 8 texels).
        for (uint t = lane; t < blocks * W_TEXELS_PER_BLOCK; t += LANES) {
            uint b = t / W_TEXELS_PER_BLOCK;
            vec4 x[W_VEC4_PER_TEXEL];
            vec4 total = vec4(0.0);
            for (uint i = 0; i < W_VEC4_PER_TEXEL; i++) {
                x[i] = xv(t * W_VEC4_PER_TEXEL + i);
                total += x[i];
            }
            float x_sum = total.x + total.y + total.z + total.w;
            for (uint r = 0; r < ROWS; r++) {
                vec4 q[W_VEC4_PER_TEXEL];
                texel_values(w_row[r] + int(t), q);
                float s = 0.0;
                for (uint i = 0; i < W_VEC4_PER_TEXEL; i++) {
                    s += dot(q[i], x[i]);
                }
                acc[r] += (s - block_zero(s_row[r], b) * x_sum) * block_scale(s_row[r], b);
            }
        }
    }
    for (uint r = 0; r < ROWS; r++) {
        acc[r] = LANES == 1 ? acc[r] : subgroupAdd(acc[r]);
    }
    if (lane != 0) {
        return;
    }
#if defined(MODE_GATE_UP)
    for (uint r = 0; r + 1 < ROWS; r += 2) {   // ROWS is even: rows come in (gate, up) pairs
        uint row = first + r;
        if (row + 1 < p.rows) {
            y[p.y_offset + slot * (p.rows / 2) + row / 2] = silu(acc[r]) * acc[r + 1];
        }
    }
#else
#if defined(MODE_DOWN)
    uint y_base = p.y_offset + slot * p.rows;
#else
    uint y_base = p.y_offset;
#endif
    for (uint r = 0; r < ROWS; r++) {
        uint row = first + r;
        if (row < p.rows) {
            uint at = y_base + row;
            y[at] = p.accumulate != 0 ? y[at] + acc[r] : acc[r];
        }
    }
#endif
}
