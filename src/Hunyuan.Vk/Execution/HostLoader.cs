using System.Globalization;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Execution;

/// <summary>How a model comes into host memory for the host executor: the estimate (weights as held, the KV cache)
/// from the config alone, refused with both numbers before any weight is read when it exceeds the memory available,
/// then the weights layer by layer.</summary>
public static class HostLoader
{
    /// <summary>Host bytes the weights and a KV cache of <paramref name="contextLength"/> positions take.</summary>
    public static long Estimate(HunyuanConfig c, WeightFormat format, int contextLength, KvCacheFormat kvFormat, Func<string, bool>? isGptq = null)
    {
        ArgumentNullException.ThrowIfNull(c);
        return HostModel.Estimate(HostModel.Plan(c, format, isGptq)) + 2L * c.Layers * contextLength * kvFormat.BytesPerPosition(c.KvHeads, c.HeadDim);
    }

    /// <summary>The checkpoint <paramref name="weights"/> on the host in <paramref name="format"/>.</summary>
    public static HostModel Load(ModelWeights weights, WeightFormat format, int contextLength, KvCacheFormat kvFormat, Action<string>? log = null,
        Action<LoadProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var source = new CheckpointWeightSource(weights);
        Check(Estimate(weights.Config, format, contextLength, kvFormat, source.IsGptq), log, $"{weights.Directory} as {format}");
        return HostModel.Load(weights, format, progress);
    }

    /// <summary>Random weights of <paramref name="c"/>'s shape on the host (benchmarks); with <paramref name="oneLayerForAll"/>
    /// every layer runs one layer's weights, and the estimate counts those.</summary>
    public static HostModel Random(HunyuanConfig c, WeightFormat format, int contextLength, KvCacheFormat kvFormat, bool oneLayerForAll, Action<string>? log = null,
        Action<LoadProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(c);
        HunyuanConfig made = oneLayerForAll ? c with { Layers = 1 } : c;
        long kv = 2L * c.Layers * contextLength * kvFormat.BytesPerPosition(c.KvHeads, c.HeadDim);
        Check(Estimate(made, format, 0, kvFormat, _ => true) + kv, log,
            $"random weights, {c.Layers} layers{(oneLayerForAll ? " sharing one layer's weights" : string.Empty)}, {format}");
        return HostModel.Random(c, format, oneLayerForAll: oneLayerForAll, progress: progress);
    }

    private static void Check(long needed, Action<string>? log, string what)
    {
        long available = ExpertPlacement.HostMemory();
        log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"loading {what} on the host executor: {needed / 1e9:0.00} GB of {available / 1e9:0.00} GB available"));
        if (needed > available)
        {
            throw new InsufficientDeviceMemoryException(string.Create(CultureInfo.InvariantCulture,
                $"The model needs about {needed / 1e9:0.00} GB of host memory (weights and KV cache); {available / 1e9:0.00} GB is available. Try a smaller --weights format or a shorter --context."));
        }
    }
}
