using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// The 32-bit words of each activation buffer of <see cref="Tokens"/> tokens going through the layers: every size is
/// written once, here. <see cref="LayerActivations"/> allocates them and <see cref="SessionPlan"/> adds them up for
/// the memory estimate. An entry is one (token, routing slot) assignment.
/// </summary>
internal sealed record ActivationSizes(int Tokens, long Hidden, long Qkv, long Queries, long Partials, long RouterLogits, long Routes, long Groups,
    long Entries, long ExpertActivations, long ExpertPartials)
{
    /// <param name="c">The model.</param>
    /// <param name="splits">Attention's split rule: the partial results of the longest context.</param>
    /// <param name="maxPositions">KV-cache positions.</param>
    /// <param name="pagePositions">Positions per KV page (each page splits on its own).</param>
    /// <param name="tokens">Tokens a step holds at most.</param>
    public static ActivationSizes For(HunyuanConfig c, AttentionSplits splits, int maxPositions, uint pagePositions, int tokens)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(splits);
        long n = tokens, entries = n * c.RouteSlots;
        AttentionShape shape = splits.Shape;
        return new(tokens, n * c.HiddenSize, n * shape.QkvDim, n * shape.QueryDim, (long)splits.PartialFloats((uint)maxPositions, (uint)tokens, pagePositions),
            n * c.Experts, n * (long)(MoeRoute.Bytes / 4), (long)MoeGroupKernel.GroupUints, entries, entries * c.ExpertIntermediate, entries * c.HiddenSize);
    }

    /// <summary>Device bytes: h and x, qkv, q and the attention output, the partials, the router's logits and routes,
    /// the expert groups and both entry maps, the experts' activations and partials.</summary>
    public long DeviceBytes => 4 * (2 * Hidden + Qkv + 2 * Queries + Partials + RouterLogits + Routes + Groups + 2 * Entries + ExpertActivations + ExpertPartials);

    /// <summary>Host-visible bytes: the token ids.</summary>
    public long HostVisibleBytes => 4L * Tokens;
}

/// <summary>
/// The activations of up to <see cref="Tokens"/> tokens going through the layers, reused by every layer; all f32 unless
/// said. A decode step has one of one token; a prefill chunk one of <see cref="SessionPlan.PrefillChunk"/> tokens.
/// </summary>
internal sealed class LayerActivations : IDisposable
{
    private readonly OwnedResources _owned = new();

    /// <param name="context">The device.</param>
    /// <param name="s">The sizes.</param>
    /// <param name="prefix">Before each buffer's name ("prefill ": error messages say which step's buffer it was).</param>
    public LayerActivations(GpuContext context, ActivationSizes s, string prefix)
    {
        ArgumentNullException.ThrowIfNull(s);
        Tokens = s.Tokens;
        try
        {
            Ids = _owned.Add(context.CreateHostBuffer((ulong)s.HostVisibleBytes, prefix + "token ids"));
            H = _owned.Floats(context, s.Hidden, prefix + "h");
            X = _owned.Floats(context, s.Hidden, prefix + "x (normed)");
            Qkv = _owned.Floats(context, s.Qkv, prefix + "qkv");
            Q = _owned.Floats(context, s.Queries, prefix + "q");
            Attention = _owned.Floats(context, s.Queries, prefix + "attention out");
            AttentionPartials = _owned.Floats(context, s.Partials, prefix + "attention partials");
            RouterLogits = _owned.Floats(context, s.RouterLogits, prefix + "router logits");
            Routes = _owned.Floats(context, s.Routes, prefix + "routes");
            Groups = _owned.Floats(context, s.Groups, prefix + "expert groups");
            EntryToken = _owned.Floats(context, s.Entries, prefix + "entry tokens");
            EntryOf = _owned.Floats(context, s.Entries, prefix + "entries of tokens");
            ExpertActivations = _owned.Floats(context, s.ExpertActivations, prefix + "expert activations");
            ExpertPartials = _owned.Floats(context, s.ExpertPartials, prefix + "expert partials");
        }
        catch
        {
            _owned.Dispose();
            throw;
        }
    }

    /// <summary>Tokens the buffers hold at most.</summary>
    public int Tokens { get; }

    public GpuBuffer Ids { get; }                 // [tokens] u32, host-visible: the ids to run; decode's also takes the next token
    public GpuBuffer H { get; }                   // [tokens, hidden]: the residual streams
    public GpuBuffer X { get; }                   // [tokens, hidden]: h normed, the input of the next product
    public GpuBuffer Qkv { get; }                 // [tokens, q_dim + 2 kv_dim]: q, k, v rows of one product
    public GpuBuffer Q { get; }                   // [tokens, q_dim]: the queries after RoPE and QK-norm
    public GpuBuffer Attention { get; }           // [tokens, q_dim]: attention output, heads side by side
    public GpuBuffer AttentionPartials { get; }   // [tokens, heads, splits, head_dim + 2]: split-K partials
    public GpuBuffer RouterLogits { get; }        // [tokens, experts]
    public GpuBuffer Routes { get; }              // [tokens] struct Route (shaders/include/limits.glsl): ids and weights
    public GpuBuffer Groups { get; }              // u32 counts[expert groups], offsets[expert groups] (moe_group; n > 1)
    public GpuBuffer EntryToken { get; }          // [entries] u32: the token of each entry listed by expert (n > 1)
    public GpuBuffer EntryOf { get; }             // [tokens, slots] u32: the entry of each (token, slot) (n > 1)
    public GpuBuffer ExpertActivations { get; }   // [entries, inter]: silu(gate x) * (up x) per entry
    public GpuBuffer ExpertPartials { get; }      // [entries, hidden]: each entry's down projection

    public void Dispose() => _owned.Dispose();
}
