using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Benchmarking;

/// <summary>
/// The least weight bytes one decode token must read, from the config alone: per layer q, k, v, o, the router (F32), and
/// gate, up and down of the top-k routed experts plus the shared expert; then one embedding row and the lm_head.
/// The floor a memory-bound decode step cannot beat.
/// </summary>
public static class ActiveWeights
{
    public static long PerLayer(HunyuanConfig c, WeightFormat format)
    {
        ArgumentNullException.ThrowIfNull(c);
        double w = format.BytesPerWeight();
        long experts = c.RouteSlots;
        return (long)((c.AttentionWeights + experts * c.ExpertWeights) * w) + (long)c.Experts * c.HiddenSize * 4;
    }

    /// <summary>Embedding row and lm_head (GPTQ checkpoints keep these outside int4: Q8 then).</summary>
    public static long Head(HunyuanConfig c, WeightFormat format)
    {
        ArgumentNullException.ThrowIfNull(c);
        double w = format.ForUnquantized().BytesPerWeight();
        return (long)((c.VocabSize + 1L) * c.HiddenSize * w);
    }

    public static long PerToken(HunyuanConfig c, WeightFormat format, int layers) => layers * PerLayer(c, format) + Head(c, format);
}
