using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Benchmarking;

/// <summary>Mean and sample standard deviation over repetitions.</summary>
public readonly record struct Stats(double Mean, double StdDev, int Count)
{
    public static Stats Of(IReadOnlyCollection<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        double mean = values.Average();
        double variance = values.Count > 1 ? values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1) : 0;
        return new Stats(mean, Math.Sqrt(variance), values.Count);
    }
}

/// <summary>One kernel's share of a decode token: calls, GPU time, weight bytes, and the bandwidth that makes.</summary>
public sealed record KernelTiming(string Kernel, double CallsPerToken, double MillisecondsPerToken, long WeightBytesPerToken, double CopyBandwidthGBs)
{
    public double GBs => MillisecondsPerToken > 0 ? WeightBytesPerToken / (MillisecondsPerToken * 1e6) : 0;

    /// <summary>Achieved weight bandwidth over the device's measured copy bandwidth.</summary>
    public double FractionOfCopy => CopyBandwidthGBs > 0 ? GBs / CopyBandwidthGBs : 0;
}

/// <summary>Everything <c>hyvk bench</c> reports for one model on one device.</summary>
public sealed record BenchResult
{
    public required string Device { get; init; }
    public required int Layers { get; init; }
    public required WeightFormat Format { get; init; }
    public required BenchSettings Settings { get; init; }
    public required double CopyBandwidthGBs { get; init; }
    public required Stats PromptTokensPerSecond { get; init; }
    public required Stats TimeToFirstTokenMs { get; init; }
    public required Stats DecodeTokensPerSecond { get; init; }
    public required int DispatchesPerToken { get; init; }
    public required double DispatchesPerLayer { get; init; }
    public required int BarriersPerToken { get; init; }
    /// <summary>Queue submits of the whole context during the decode loops, per token: counted, not assumed.</summary>
    public required double SubmitsPerToken { get; init; }
    public required double HostRecordMs { get; init; }
    public required double HostSubmitMs { get; init; }

    /// <summary>Host time on the token's critical path (recording drops out when it overlaps the previous step).</summary>
    public required double HostExposedMs { get; init; }
    public required bool OverlapsRecording { get; init; }
    public required long WeightBytesPerToken { get; init; }
    public required long MinimumBytesPerToken { get; init; }
    public required long PeakDeviceBytes { get; init; }
    public required IReadOnlyList<KernelTiming> Kernels { get; init; }
    public required double GpuMsPerLayer { get; init; }
    public required double GpuMsOutsideLayers { get; init; }
    public required int FullDepthLayers { get; init; }
    public required double FullDepthMsPerToken { get; init; }
    public required double FullDepthHostMs { get; init; }
    public required long FullDepthMinimumBytes { get; init; }

    /// <summary>Wall time the weights took to reach the device (reading and converting a checkpoint, or making random
    /// weights, and uploading them), and the device bytes they take: what a user waits for before the first token.</summary>
    public double LoadSeconds { get; init; }
    public long LoadedBytes { get; init; }

    public double LoadGBs => LoadSeconds > 0 ? LoadedBytes / (LoadSeconds * 1e9) : 0;

    /// <summary>Layers whose routed experts run on the host, and the host bytes they take.</summary>
    public int HostLayers { get; init; }
    public long HostBytes { get; init; }

    /// <summary>The host's read bandwidth (<see cref="HostBandwidth"/>), measured when experts run there.</summary>
    public double HostBandwidthGBs { get; init; }

    /// <summary>Per decoded token: the host's time computing experts, waiting for the device to reach a hand-off, the
    /// expert bytes it read, and the hand-offs (each a device-to-host and a host-to-device round trip).</summary>
    public double HostExpertMs { get; init; }
    public double HostWaitMs { get; init; }
    public long HostExpertBytesPerToken { get; init; }
    public int HandOffsPerToken { get; init; }

    /// <summary>Positions in the cache before the prompt, and the cache's format, size and pages.</summary>
    public int Depth { get; init; }
    public KvCacheFormat KvFormat { get; init; }
    public long KvCacheBytes { get; init; }
    public int KvPagePositions { get; init; }

    /// <summary>Per profiled decode token: GPU time of attention (its split and combine passes, all layers), the KV
    /// bytes it read (K and V of every position it saw, every layer), and all GPU time.</summary>
    public double AttentionMsPerToken { get; init; }
    public long KvBytesPerToken { get; init; }
    public double GpuMsPerToken { get; init; }

    /// <summary>KV bytes read over attention's GPU time.</summary>
    public double AttentionGBs => AttentionMsPerToken > 0 ? KvBytesPerToken / (AttentionMsPerToken * 1e6) : 0;

    /// <summary>Attention's share of the token's GPU time.</summary>
    public double AttentionShare => GpuMsPerToken > 0 ? AttentionMsPerToken / GpuMsPerToken : 0;

    /// <summary>Device time per token that ran while the host computed (device time + host experts - token time).</summary>
    public double OverlapMs { get; init; }

    public double HostExpertGBs => HostExpertMs > 0 ? HostExpertBytesPerToken / (HostExpertMs * 1e6) : 0;

    /// <summary>The hybrid decode floor: device bytes at the copy bandwidth plus host expert bytes at the host's.</summary>
    public double HybridFloorMsPerToken => WeightBytesPerToken / (CopyBandwidthGBs * 1e6) + (HostBandwidthGBs > 0 ? HostExpertBytesPerToken / (HostBandwidthGBs * 1e6) : 0);

    public double HostOverheadMs => HostRecordMs + HostSubmitMs;
    public double DecodeMsPerToken => 1e3 / DecodeTokensPerSecond.Mean;
    public double BytesOverMinimum => (double)WeightBytesPerToken / MinimumBytesPerToken;

    /// <summary>The decode floor on this device: the minimum bytes per token at the measured copy bandwidth.</summary>
    public double FloorMsPerToken => MinimumBytesPerToken / (CopyBandwidthGBs * 1e6);
    public double FullDepthFloorMsPerToken => FullDepthMinimumBytes / (CopyBandwidthGBs * 1e6);
}
