using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Generation;

/// <summary>How to load a model for <see cref="HunyuanEngine"/>.</summary>
public sealed record EngineOptions
{
    /// <summary>Vulkan device index (null: <see cref="Executor"/> decides).</summary>
    public int? Device { get; init; }

    /// <summary>What runs the model when <see cref="Device"/> is null: <see cref="ExecutorChoice.Auto"/> (HYVK_DEVICE,
    /// else the best Vulkan device unless that is a CPU device or there is none: then the host executor),
    /// <see cref="ExecutorChoice.Cpu"/> (the host executor), or a Vulkan device.</summary>
    public ExecutorChoice Executor { get; init; }

    /// <summary>The host executor's threads (0: the machine's processors).</summary>
    public int Threads { get; init; }

    /// <summary>Device weight format (null: Q4, or Q4Z as stored for GPTQ-Int4 checkpoints).</summary>
    public WeightFormat? Weights { get; init; }

    /// <summary>KV-cache positions.</summary>
    public int ContextLength { get; init; } = 4096;

    /// <summary>How the KV cache stores keys and values: f16, or int8 with block scales (about half the memory and the
    /// bytes attention reads, logits within NMSE ~1e-4 of f16's).</summary>
    public KvCacheFormat KvCache { get; init; } = KvCacheFormat.F16;

    /// <summary>Device bytes the model may use (null: what the device reports, less a margin).</summary>
    public long? DeviceMemory { get; init; }

    /// <summary>Layers whose routed experts live in host memory, computed on the CPU (null: auto, as many on the device
    /// as <see cref="DeviceMemory"/> holds, all on the host on a CPU device; <see cref="ExpertPlacement.All"/>: every layer).</summary>
    public int? HostExpertLayers { get; init; }

    /// <summary>Hears the memory estimate (and the device) before the weights load.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Hears the load's progress: after the embedding and each layer.</summary>
    public Action<LoadProgress>? Progress { get; init; }
}
