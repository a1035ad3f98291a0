using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>The activations of one prefill chunk of up to <see cref="Chunk"/> tokens, reused by every layer; all f32
/// unless said. An entry is one (token, routing slot) assignment, listed by expert.</summary>
internal sealed class PrefillBuffers : IDisposable
{
    private readonly OwnedResources _owned = new();

    public PrefillBuffers(GpuContext context, HunyuanConfig c, AttentionShape shape, AttentionDecodeKernel attention, int maxPositions, uint pagePositions, int chunk)
    {
        Chunk = chunk;
        long entries = (long)chunk * c.RouteSlots;
        try
        {
            Tokens = _owned.Add(context.CreateHostBuffer((ulong)chunk * 4, "prefill tokens"));
            H = _owned.Floats(context, (long)chunk * c.HiddenSize, "prefill h");
            X = _owned.Floats(context, (long)chunk * c.HiddenSize, "prefill x");
            Qkv = _owned.Floats(context, (long)chunk * shape.QkvDim, "prefill qkv");
            Q = _owned.Floats(context, (long)chunk * shape.QueryDim, "prefill q");
            Attention = _owned.Floats(context, (long)chunk * shape.QueryDim, "prefill attention out");
            AttentionPartials = _owned.Floats(context, (long)attention.PartialFloats((uint)maxPositions, (uint)chunk, pagePositions), "prefill attention partials");
            RouterLogits = _owned.Floats(context, (long)chunk * c.Experts, "prefill router logits");
            Routes = _owned.Floats(context, chunk * (long)(MoeRoute.Bytes / 4), "prefill routes");
            Groups = _owned.Floats(context, (long)MoeGroupKernel.GroupUints, "prefill expert groups");
            EntryToken = _owned.Floats(context, entries, "prefill entry tokens");
            EntryOf = _owned.Floats(context, entries, "prefill entries of tokens");
            ExpertActivations = _owned.Floats(context, entries * c.ExpertIntermediate, "prefill expert activations");
            ExpertPartials = _owned.Floats(context, entries * c.HiddenSize, "prefill expert partials");
        }
        catch
        {
            _owned.Dispose();
            throw;
        }
    }

    /// <summary>Tokens a chunk holds at most.</summary>
    public int Chunk { get; }

    public GpuBuffer Tokens { get; }              // [chunk] u32, host-visible: the chunk's token ids
    public GpuBuffer H { get; }                   // [chunk, hidden]: the residual streams
    public GpuBuffer X { get; }                   // [chunk, hidden]: h normed
    public GpuBuffer Qkv { get; }                 // [chunk, q_dim + 2 kv_dim]
    public GpuBuffer Q { get; }                   // [chunk, q_dim]: after RoPE and QK-norm
    public GpuBuffer Attention { get; }           // [chunk, q_dim]
    public GpuBuffer AttentionPartials { get; }   // [chunk, heads, splits, head_dim + 2]
    public GpuBuffer RouterLogits { get; }        // [chunk, experts]
    public GpuBuffer Routes { get; }              // [chunk] struct Route
    public GpuBuffer Groups { get; }              // u32 counts[expert groups], offsets[expert groups] (moe_group)
    public GpuBuffer EntryToken { get; }          // [entries] u32: the token of each listed entry
    public GpuBuffer EntryOf { get; }             // [chunk, slots] u32: the entry of each (token, slot)
    public GpuBuffer ExpertActivations { get; }   // [entries, inter]
    public GpuBuffer ExpertPartials { get; }      // [entries, hidden]

    public void Dispose() => _owned.Dispose();
}
