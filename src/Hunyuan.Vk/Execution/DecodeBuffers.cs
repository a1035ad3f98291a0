using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>The activations of one decode step (one token), reused by every layer; all f32 unless said.</summary>
internal sealed class DecodeBuffers : IDisposable
{
    private readonly OwnedResources _owned = new();

    public DecodeBuffers(GpuContext context, HunyuanConfig c, AttentionShape shape, AttentionDecodeKernel attention, int maxPositions, uint pagePositions)
    {
        int slots = c.RouteSlots;
        try
        {
            H = _owned.Floats(context, c.HiddenSize, "h");
            X = _owned.Floats(context, c.HiddenSize, "x (normed)");
            Qkv = _owned.Floats(context, shape.QkvDim, "qkv");
            Q = _owned.Floats(context, shape.QueryDim, "q");
            Attention = _owned.Floats(context, shape.QueryDim, "attention out");
            AttentionPartials = _owned.Floats(context, (long)attention.PartialFloats((uint)maxPositions, 1, pagePositions), "attention partials");
            RouterLogits = _owned.Floats(context, c.Experts, "router logits");
            Route = _owned.Floats(context, (long)(MoeRoute.Bytes / 4), "route");
            ExpertActivations = _owned.Floats(context, (long)slots * c.ExpertIntermediate, "expert activations");
            ExpertPartials = _owned.Floats(context, (long)slots * c.HiddenSize, "expert partials");
            Logits = _owned.Floats(context, c.VocabSize, "logits");
            PenalisedLogits = _owned.Floats(context, c.VocabSize, "logits after the repetition penalty");
            Token = _owned.Add(context.CreateHostBuffer(4, "token"));
            History = _owned.Floats(context, maxPositions, "token history");
            PenaltyScratch = _owned.Floats(context, maxPositions, "repetition penalty scratch");
        }
        catch
        {
            _owned.Dispose();
            throw;
        }
    }

    public GpuBuffer H { get; }                   // [hidden]: the residual stream
    public GpuBuffer X { get; }                   // [hidden]: h normed, the input of the next product
    public GpuBuffer Qkv { get; }                 // [q_dim + 2 kv_dim]: q, k, v rows of one product
    public GpuBuffer Q { get; }                   // [q_dim]: the queries after RoPE and QK-norm
    public GpuBuffer Attention { get; }           // [q_dim]: attention output, heads side by side
    public GpuBuffer AttentionPartials { get; }   // [heads, splits, head_dim + 2]: split-K partials
    public GpuBuffer RouterLogits { get; }        // [experts]
    public GpuBuffer Route { get; }               // struct Route (shaders/include/limits.glsl): ids and weights
    public GpuBuffer ExpertActivations { get; }   // [slots, inter]: silu(gate x) * (up x) per routing slot
    public GpuBuffer ExpertPartials { get; }      // [slots, hidden]: each slot's down projection
    public GpuBuffer Logits { get; }              // [vocab]: the lm_head's output, raw
    public GpuBuffer PenalisedLogits { get; }     // [vocab]: the logits after the repetition penalty
    public GpuBuffer Token { get; }               // [1] u32, host-visible: in, the token to run; out, the next one
    public GpuBuffer History { get; }             // [positions] u32: every token run, for the repetition penalty
    public GpuBuffer PenaltyScratch { get; }      // [positions] u32: the penalty's once-per-token marks

    public void Dispose() => _owned.Dispose();
}
