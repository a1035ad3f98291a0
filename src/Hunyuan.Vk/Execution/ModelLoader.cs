using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>What a load may use of the device: its memory budget, where the routed experts go, the KV cache's format.</summary>
/// <param name="DeviceMemory">Device bytes to use (null: what the device reports, less a margin).</param>
/// <param name="HostExperts">Layers whose routed experts go to the host (null: chosen; <see cref="ExpertPlacement.All"/>: all).</param>
/// <param name="KvCache">How the KV cache stores keys and values.</param>
public sealed record LoadOptions(long? DeviceMemory = null, int? HostExperts = 0, KvCacheFormat KvCache = KvCacheFormat.F16);

/// <summary>
/// How a model comes onto a device, the one sequence generate, chat, serve and bench share: the experts' placement and
/// its memory estimate from the config alone, refused with both numbers before any weight is read when it cannot fit,
/// then the weights (from a checkpoint, or at random for benchmarks).
/// </summary>
public static class ModelLoader
{
    /// <summary>The checkpoint <paramref name="weights"/> on <paramref name="context"/> in <paramref name="format"/>, with
    /// a KV cache of <paramref name="contextLength"/> positions to come; <paramref name="placement"/> says where its
    /// experts went.</summary>
    public static DeviceModel Load(GpuContext context, ModelWeights weights, WeightFormat format, int contextLength, LoadOptions options,
        out ExpertPlacement placement, Action<string>? log = null, Action<LoadProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(weights);
        placement = Place(context, weights.Config, format, contextLength, options, log, what: $"{weights.Directory} as {format}");
        return new DeviceModel(context, weights, format, progress, placement.HostLayers, placement.SharedOnHost);
    }

    /// <summary>Random weights of <paramref name="c"/>'s shape, placed as a checkpoint would be; with
    /// <paramref name="oneLayerForAll"/> every layer runs one layer's weights (one device layer's and one host layer's),
    /// and the estimate counts those.</summary>
    public static DeviceModel Random(GpuContext context, HunyuanConfig c, WeightFormat format, int contextLength, LoadOptions options, bool oneLayerForAll,
        out ExpertPlacement placement, Action<string>? log = null, Action<LoadProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(options);
        placement = ExpertPlacement.Choose(c, format, contextLength, context.Info, options.DeviceMemory, options.HostExperts, kvFormat: options.KvCache);
        if (oneLayerForAll)
        {
            int onDevice = Math.Min(1, c.Layers - placement.HostLayers), onHost = Math.Min(1, placement.HostLayers);
            MemoryEstimate made = MemoryEstimate.For(c with { Layers = onDevice + onHost }, format, contextLength, hostLayers: onHost,
                sharedOnHost: placement.SharedOnHost, kvFormat: options.KvCache, device: context.Info);
            placement = placement with { Estimate = placement.Estimate with { WeightBytes = made.WeightBytes, HostBytes = made.HostBytes } };
        }

        Check(context, placement, c, log, $"random weights, {c.Layers} layers{(oneLayerForAll ? " sharing one layer's weights" : string.Empty)}, {format}");
        return DeviceModel.Random(context, c, format, oneLayerForAll: oneLayerForAll, hostLayers: placement.HostLayers, sharedOnHost: placement.SharedOnHost,
            progress: progress);
    }

    private static ExpertPlacement Place(GpuContext context, HunyuanConfig c, WeightFormat format, int contextLength, LoadOptions options, Action<string>? log,
        string what)
    {
        ArgumentNullException.ThrowIfNull(options);
        ExpertPlacement placement = ExpertPlacement.Choose(c, format, contextLength, context.Info, options.DeviceMemory, options.HostExperts, kvFormat: options.KvCache);
        Check(context, placement, c, log, what);
        return placement;
    }

    private static void Check(GpuContext context, ExpertPlacement placement, HunyuanConfig c, Action<string>? log, string what)
    {
        log?.Invoke($"loading {what} on {context.Info.Name}: {placement.Describe(c.Layers)}");
        placement.Estimate.CheckFits(context.Info, placement.DeviceBudget);
    }
}
