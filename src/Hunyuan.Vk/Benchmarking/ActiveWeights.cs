using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Benchmarking;

/// <summary>
/// The least weight bytes one decode token must read, from the weight plan: per layer q, k, v, o, the router (F32), and
/// gate, up and down of the top-k routed experts plus the shared expert; then one embedding row and the lm_head.
/// The floor a memory-bound decode step cannot beat.
/// </summary>
public static class ActiveWeights
{
    public static long PerLayer(HunyuanConfig c, WeightFormat format)
    {
        ArgumentNullException.ThrowIfNull(c);
        LayerWeights w = WeightPlan.For(c with { Layers = 1 }, format).Layers[0];
        return w.Qkv.Bytes + w.O.Bytes + w.Router.Bytes + c.RouteSlots * w.ExpertBytes;
    }

    /// <summary>Embedding row and lm_head (GPTQ checkpoints keep these outside int4: Q8 then).</summary>
    public static long Head(HunyuanConfig c, WeightFormat format)
    {
        ArgumentNullException.ThrowIfNull(c);
        WeightPlan plan = WeightPlan.For(c with { Layers = 1 }, format);
        return plan.Embedding.Bytes / c.VocabSize + plan.LmHead.Bytes;
    }

    public static long PerToken(HunyuanConfig c, WeightFormat format, int layers) => layers * PerLayer(c, format) + Head(c, format);
}
