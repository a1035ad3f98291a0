using System.Globalization;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// Device memory a model will take, from its config alone, so a load that cannot fit is refused before any weight is
/// read: weights in the device format (router, norms in F32), the KV cache in its format, and the activation buffers.
/// </summary>
/// <param name="WeightBytes">The weights in their device formats.</param>
/// <param name="KvCacheBytes">The KV cache of the context, in <see cref="KvFormat"/>.</param>
/// <param name="ActivationBytes">Decode and prefill activations.</param>
/// <param name="LargestView">Texels of the largest texel-buffer view one weight matrix needs, and what it is.</param>
/// <param name="HostBytes">Host memory the routed experts of <see cref="HostLayers"/> layers take (f32 scales) with
/// their scratch; not part of <see cref="TotalBytes"/>.</param>
/// <param name="HostLayers">Layers whose routed experts are on the host (the first ones).</param>
/// <param name="RoutedLayerBytes">Device bytes of one layer's routed experts: what moving a layer to the host saves.</param>
/// <param name="SharedOnHost">Whether the host layers' shared experts are on the host too.</param>
public sealed record MemoryEstimate(long WeightBytes, long KvCacheBytes, long ActivationBytes, (long Texels, string What) LargestView = default,
    long HostBytes = 0, int HostLayers = 0, long RoutedLayerBytes = 0, bool SharedOnHost = false)
{
    /// <summary>How the KV cache stores keys and values.</summary>
    public KvCacheFormat KvFormat { get; init; }

    /// <summary>Device bytes: weights, KV cache, activations.</summary>
    public long TotalBytes => WeightBytes + KvCacheBytes + ActivationBytes;

    /// <param name="c">The model.</param>
    /// <param name="format">Device weight format.</param>
    /// <param name="contextLength">KV-cache positions.</param>
    /// <param name="prefillChunk">Prompt tokens per prefill batch.</param>
    /// <param name="hostLayers">Layers whose routed experts live in host memory (0: all on the device).</param>
    /// <param name="sharedOnHost">Whether those layers' shared experts live there too.</param>
    /// <param name="kvFormat">How the KV cache stores keys and values.</param>
    /// <param name="device">The device, whose limits and tuning size the KV pages and attention's partials (null: GPU defaults).</param>
    public static MemoryEstimate For(HunyuanConfig c, WeightFormat format, int contextLength, int prefillChunk = 64, int hostLayers = 0, bool sharedOnHost = false,
        KvCacheFormat kvFormat = KvCacheFormat.F16, DeviceInfo? device = null)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentOutOfRangeException.ThrowIfNegative(hostLayers);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hostLayers, c.Layers);
        long hidden = c.HiddenSize, inter = c.ExpertIntermediate;
        WeightPlan plan = WeightPlan.For(c, format, hostLayers, sharedOnHost);
        long weights = plan.Bytes(WeightSide.Device);
        int hostExperts = c.Experts + (sharedOnHost ? c.SharedExperts : 0);
        SessionPlan session = SessionPlan.For(c, device, contextLength, prefillChunk, kvFormat, hostExperts: hostLayers > 0);
        WeightFormat dense = format.ForUnquantized();
        (long, string)[] views =
        [
            Texels(format, 2 * inter, hidden, "an expert's gate/up matrix"),
            Texels(format, hidden, inter, "an expert's down matrix"),
            Texels(format, c.QueryDim + 2L * c.KvDim, hidden, "a QKV matrix"),
            Texels(dense, c.VocabSize, hidden, "the embedding"),
        ];
        return new MemoryEstimate(weights, session.KvCacheBytes, session.ActivationBytes, views.MaxBy(v => v.Item1), hostLayers * HostLayerBytes(c, format, hostExperts) + (hostLayers > 0 ? HostScratchBytes(c, session.PrefillChunk) : 0),
            hostLayers, c.Experts * plan.Layers[0].ExpertBytes, sharedOnHost && hostLayers > 0) { KvFormat = kvFormat };
    }

    /// <summary>Host bytes of one layer's routed experts as the host kernels hold them (<see cref="HostCompute.HostMatrix.BytesFor"/>).</summary>
    public static long HostLayerBytes(HunyuanConfig c, WeightFormat format, int? experts = null)
    {
        ArgumentNullException.ThrowIfNull(c);
        long hidden = c.HiddenSize, inter = c.ExpertIntermediate;
        return (experts ?? c.Experts) * (HostCompute.HostMatrix.BytesFor(format, 2 * inter, hidden) + HostCompute.HostMatrix.BytesFor(format, hidden, inter));
    }

    // The host runner's buffers for a prefill chunk: x, y, the SwiGLU outputs and their int8 copies.
    private static long HostScratchBytes(HunyuanConfig c, int prefillChunk) =>
        prefillChunk * (c.HiddenSize * 4L * 3 + c.RouteSlots * (c.ExpertIntermediate * 6L + 64));

    /// <summary>The largest view of one [rows, cols] matrix: quants (16-byte texels) or scales (one per group). A stack
    /// of experts beyond the limit is split into parts of whole matrices (<see cref="DeviceMatrix"/>); one matrix is not.</summary>
    private static (long, string) Texels(WeightFormat format, long rows, long cols, string what)
    {
        WeightFormatSpec spec = format.Spec();
        long texels = Math.Max(spec.QuantBytes(rows, cols) / WeightFormatSpec.QuantTexelBytes, spec.Groups(rows, cols));
        return (texels, $"{what} in {spec.Name}");
    }

    /// <summary>Throws, naming both sizes, when the estimate exceeds the device's device-local memory (or
    /// <paramref name="budget"/>), or one weight matrix's view the device's maxTexelBufferElements, before any weight is read.</summary>
    public void CheckFits(DeviceInfo device, long? budget = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        if ((ulong)LargestView.Texels > device.Limits.MaxTexelBufferElements)
        {
            throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                $"{LargestView.What} is {LargestView.Texels:N0} texels, above the {device.Limits.MaxTexelBufferElements:N0} of {device.Name}'s maxTexelBufferElements: choose a smaller --weights format, such as q8 or q4."));
        }

        long limit = budget ?? Budget(device);
        if (TotalBytes > limit)
        {
            throw new InsufficientDeviceMemoryException(string.Create(CultureInfo.InvariantCulture,
                $"The model needs about {Gib(TotalBytes)} on the device ({this}); {device.Name} has {Gib(limit)} of device-local memory. Try a smaller --weights format, a shorter --context, or a device with more memory."));
        }
    }

    /// <summary>What the device can hold: its device-local heaps; for a CPU device (lavapipe), whose "device" memory is
    /// the host's and whose heap size is nominal (2 GiB on lavapipe, which allocates beyond it), the host's memory if larger.</summary>
    public static long Budget(DeviceInfo device)
    {
        ArgumentNullException.ThrowIfNull(device);
        long heaps = (long)Math.Min(device.DeviceLocalBytes, long.MaxValue);
        return device.Type == "cpu" ? Math.Max(heaps, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes) : heaps;
    }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"weights {Gib(WeightBytes)}, KV cache {Gib(KvCacheBytes)} ({KvFormat.Name()}), activations {Gib(ActivationBytes)}")
        + (HostLayers > 0 ? string.Create(CultureInfo.InvariantCulture, $"; host: {HostLayers} layers' {(SharedOnHost ? "routed and shared" : "routed")} experts, {Gib(HostBytes)}") : string.Empty);

    internal static string Gib(long bytes) => (bytes / (1024.0 * 1024 * 1024)).ToString("0.00", CultureInfo.InvariantCulture) + " GiB";
}

/// <summary>The device cannot hold what was asked of it.</summary>
public sealed class InsufficientDeviceMemoryException : Exception
{
    public InsufficientDeviceMemoryException(string message)
        : base(message)
    {
    }

    public InsufficientDeviceMemoryException()
    {
    }

    public InsufficientDeviceMemoryException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
