using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// Everything a decode session allocates besides the weights, sized once from the config, the device, the context and
/// the tokens per step: the KV cache's pages, the activations of a decode step (one token) and of a prefill chunk, and
/// the head's buffers. The session allocates from it and <see cref="MemoryEstimate"/> adds it up, so the two agree.
/// </summary>
/// <param name="Config">The model.</param>
/// <param name="Splits">Attention's split rule on this device (so its partial results).</param>
/// <param name="KvFormat">How the KV cache stores keys and values.</param>
/// <param name="MaxPositions">KV-cache positions.</param>
/// <param name="PagePositions">KV-cache positions per page (one binding each).</param>
/// <param name="Decode">A decode step's activations: one token.</param>
/// <param name="Prefill">A prefill chunk's activations.</param>
/// <param name="HostExperts">Whether some layers' routed experts are on the host (the session then has hand-off buffers).</param>
internal sealed record SessionPlan(HunyuanConfig Config, AttentionSplits Splits, KvCacheFormat KvFormat, int MaxPositions, uint PagePositions,
    ActivationSizes Decode, ActivationSizes Prefill, bool HostExperts)
{
    public AttentionShape Shape => Splits.Shape;

    /// <summary>Prompt tokens per prefill command buffer.</summary>
    public int PrefillChunk => Prefill.Tokens;

    /// <summary>Bytes of one position in one layer's K (or V).</summary>
    public ulong KvBytesPerPosition => (ulong)KvFormat.BytesPerPosition(Config.KvHeads, Config.HeadDim);

    /// <summary>Device bytes of the KV cache.</summary>
    public long KvCacheBytes => KvCache.Bytes(Config.Layers, MaxPositions, PagePositions, KvBytesPerPosition);

    /// <summary>Device bytes of the activations, the head's buffers and the host experts' hand-off (host-visible ones
    /// included).</summary>
    public long ActivationBytes => Decode.DeviceBytes + Decode.HostVisibleBytes + Prefill.DeviceBytes + Prefill.HostVisibleBytes
        + HeadBuffers.Bytes(Config, MaxPositions) + (HostExperts ? HostExpertStage.HandOffBytes(Config, PrefillChunk) : 0);

    /// <param name="c">The model.</param>
    /// <param name="device">The device (null, before one is chosen: GPU defaults, no limit on pages or bindings).</param>
    /// <param name="maxPositions">KV-cache positions.</param>
    /// <param name="prefillChunk">Prompt tokens per prefill command buffer at most.</param>
    /// <param name="kvFormat">How the KV cache stores keys and values.</param>
    /// <param name="kvPagePositions">KV-cache positions per page at most (0: one binding's worth).</param>
    /// <param name="hostExperts">Whether some layers' routed experts are on the host.</param>
    public static SessionPlan For(HunyuanConfig c, DeviceInfo? device, int maxPositions, int prefillChunk = 64, KvCacheFormat kvFormat = KvCacheFormat.F16,
        int kvPagePositions = 0, bool hostExperts = false)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPositions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(prefillChunk, 1);
        var shape = new AttentionShape(c.Heads, c.KvHeads, c.HeadDim);
        var splits = new AttentionSplits(device is null ? DeviceTuning.BeforeDevice : DeviceTuning.For(device), shape, kvFormat);
        uint page = KvCache.PagePositionsFor(device, (ulong)kvFormat.BytesPerPosition(c.KvHeads, c.HeadDim), maxPositions, kvPagePositions);
        // The prefill partials grow with chunk x splits; a shorter chunk keeps them in one binding.
        ulong partialsPerToken = splits.PartialFloats((uint)maxPositions, 1, page) * 4;
        ulong binding = device is null ? ulong.MaxValue : device.Limits.MaxStorageBufferRange;
        int chunk = (int)Math.Clamp(binding / partialsPerToken, 1, (ulong)prefillChunk);
        return new SessionPlan(c, splits, kvFormat, maxPositions, page, ActivationSizes.For(c, splits, maxPositions, page, 1),
            ActivationSizes.For(c, splits, maxPositions, page, chunk), hostExperts);
    }
}
