// Sizes the shaders and the C# wrappers must agree on. The build turns every `#define NAME value` of this file into
// a constant of Hunyuan.Vk.Kernels.ShaderLimits (NAME in PascalCase), so this is their one home; the wrappers check
// them where a kernel is built or recorded.
#ifndef LIMITS_GLSL
#define LIMITS_GLSL

// Floats of x a uniform-buffer matvec can read: 64 KiB, the uniform range every Vulkan device binds.
#define MAX_COLS 16384

// Routing slots of one token: the top-k routed experts, then the shared expert.
#define MAX_ROUTE_SLOTS 16

// Routed experts moe_route chooses among (two 32-bit masks).
#define MAX_EXPERTS 64

// Expert lists of a prefill chunk's grouping: routed experts, the shared expert, and spare.
#define MAX_EXPERT_GROUPS 80

// What a token's routing holds: slot s runs expert ids[s] with weight weights[s].
struct Route {
    uint ids[MAX_ROUTE_SLOTS];
    float weights[MAX_ROUTE_SLOTS];
};

#endif
