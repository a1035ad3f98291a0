using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Benchmarking;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Cli;

/// <summary>Writes a <see cref="BenchResult"/> as a table for people, or as JSON, CSV or Markdown.</summary>
internal static class BenchReport
{
    private sealed record Metric(string Key, double Value, string Unit, string Label);

    private static List<Metric> Metrics(BenchResult r) =>
    [
        new("copy_bandwidth", r.CopyBandwidthGBs, "GB/s", "device copy bandwidth (read + write)"),
        new("load_seconds", r.LoadSeconds, "s", "load: weights to the device (conversion included)"),
        new("load_gb_per_second", r.LoadGBs, "GB/s", "load: device bytes over load time"),
        new("prompt_tokens_per_second", r.PromptTokensPerSecond.Mean, "tok/s", "prompt processing"),
        new("prompt_tokens_per_second_stddev", r.PromptTokensPerSecond.StdDev, "tok/s", "  spread (stddev)"),
        new("time_to_first_token", r.TimeToFirstTokenMs.Mean, "ms", "time to first token"),
        new("time_to_first_token_stddev", r.TimeToFirstTokenMs.StdDev, "ms", "  spread (stddev)"),
        new("decode_tokens_per_second", r.DecodeTokensPerSecond.Mean, "tok/s", "decode"),
        new("decode_tokens_per_second_stddev", r.DecodeTokensPerSecond.StdDev, "tok/s", "  spread (stddev)"),
        new("decode_ms_per_token", r.DecodeMsPerToken, "ms", "decode time per token"),
        new("dispatches_per_token", r.DispatchesPerToken, string.Empty, "dispatches per token"),
        new("dispatches_per_layer", r.DispatchesPerLayer, string.Empty, "dispatches per layer"),
        new("barriers_per_token", r.BarriersPerToken, string.Empty, "barriers per token"),
        new("submits_per_token", r.SubmitsPerToken, string.Empty, "submits per token"),
        new("host_record_ms", r.HostRecordMs, "ms", "host: recording per token"),
        new("host_submit_ms", r.HostSubmitMs, "ms", "host: submitting per token"),
        new("host_overhead_ms", r.HostOverheadMs, "ms", "host overhead per token (record + submit)"),
        new("host_exposed_ms", r.HostExposedMs, "ms", r.OverlapsRecording ? "host time on the critical path (recording overlapped)" : "host time on the critical path (not overlapped)"),
        new("weight_bytes_per_token", r.WeightBytesPerToken, "B", "weight bytes read per token"),
        new("minimum_bytes_per_token", r.MinimumBytesPerToken, "B", "minimum (active weights)"),
        new("bytes_over_minimum", r.BytesOverMinimum, "x", "read / minimum"),
        new("peak_device_bytes", r.PeakDeviceBytes, "B", "peak device memory"),
        new("gpu_ms_per_layer", r.GpuMsPerLayer, "ms", "GPU time per layer per token"),
        new("gpu_ms_outside_layers", r.GpuMsOutsideLayers, "ms", "GPU time outside the layers (embedding, head)"),
        new("floor_ms_per_token", r.FloorMsPerToken, "ms", "roofline: decode floor at copy bandwidth"),
        new("measured_over_floor", r.DecodeMsPerToken / r.FloorMsPerToken, "x", "roofline: measured / floor"),
        new("full_depth_layers", r.FullDepthLayers, string.Empty, "full depth"),
        new("full_depth_ms_per_token", r.FullDepthMsPerToken, "ms", "full depth: estimated GPU time per token"),
        new("full_depth_tokens_per_second", 1e3 / (r.FullDepthMsPerToken + r.FullDepthHostMs), "tok/s", "full depth: estimated decode"),
        new("full_depth_host_ms", r.FullDepthHostMs, "ms", "full depth: estimated host overhead"),
        new("full_depth_floor_ms_per_token", r.FullDepthFloorMsPerToken, "ms", "full depth: decode floor"),
        new("host_expert_layers", r.HostLayers, string.Empty, "host experts: layers on the host"),
        new("host_expert_bytes", r.HostBytes, "B", "host experts: host memory"),
        new("host_bandwidth", r.HostBandwidthGBs, "GB/s", "host experts: host read bandwidth"),
        new("host_expert_ms", r.HostExpertMs, "ms", "host experts: CPU time per token"),
        new("host_expert_bytes_per_token", r.HostExpertBytesPerToken, "B", "host experts: bytes read per token"),
        new("host_expert_gb_per_second", r.HostExpertGBs, "GB/s", "host experts: bytes over CPU time"),
        new("host_expert_fraction_of_bandwidth", r.HostBandwidthGBs > 0 ? r.HostExpertGBs / r.HostBandwidthGBs : 0, "x", "host experts: of host bandwidth"),
        new("host_wait_ms", r.HostWaitMs, "ms", "host experts: host waiting for the device per token"),
        new("hand_offs_per_token", r.HandOffsPerToken, string.Empty, "host experts: hand-offs (round trips) per token"),
        new("overlap_ms", r.OverlapMs, "ms", "host experts: device time hidden behind the CPU's"),
        new("depth", r.Depth, string.Empty, "depth: positions in the cache before the prompt"),
        new("kv_cache_bytes", r.KvCacheBytes, "B", $"KV cache ({r.KvFormat.Name()}, pages of {r.KvPagePositions} positions)"),
        new("attention_ms_per_token", r.AttentionMsPerToken, "ms", "attention: GPU time per token (all layers)"),
        new("attention_share", r.AttentionShare, "x", "attention: share of the token's GPU time"),
        new("kv_bytes_per_token", r.KvBytesPerToken, "B", "attention: KV bytes read per token"),
        new("kv_over_weight_bytes", r.WeightBytesPerToken > 0 ? (double)r.KvBytesPerToken / r.WeightBytesPerToken : 0, "x", "attention: KV bytes over weight bytes per token"),
        new("attention_gb_per_second", r.AttentionGBs, "GB/s", "attention: KV bytes over its time"),
        new("hybrid_floor_ms_per_token", r.HybridFloorMsPerToken, "ms", "roofline: device bytes/copy bw + host bytes/host bw"),
    ];

    private static string Header(BenchResult r) => Invariant(
        $"{r.Device}: {r.Layers} layers, {r.Format}, KV {r.KvFormat.Name()}, prompt {r.Settings.PromptTokens}, decode {r.Settings.DecodeTokens}{(r.Depth > 0 ? $" @ depth {r.Depth}" : string.Empty)}, {r.Settings.Repetitions} repetitions");

    public static string Table(BenchResult r)
    {
        var s = new StringBuilder();
        s.AppendLine(Header(r));
        foreach (Metric m in Metrics(r))
        {
            s.AppendLine(Invariant($"  {m.Label,-48} {Format(m.Value),14} {m.Unit}"));
        }

        s.AppendLine(Invariant($"  roofline: floor {r.FloorMsPerToken:F2} ms/token ({r.MinimumBytesPerToken / 1e9:F3} GB at {r.CopyBandwidthGBs:F1} GB/s), measured {r.DecodeMsPerToken:F2} ms/token = {r.DecodeMsPerToken / r.FloorMsPerToken:F2}x the floor"));
        s.AppendLine();
        s.AppendLine(Invariant($"  {"kernel",-24} {"calls/tok",10} {"ms/tok",10} {"weight MB/tok",14} {"GB/s",8} {"of copy",8}"));
        foreach (KernelTiming k in r.Kernels)
        {
            s.AppendLine(Invariant($"  {k.Kernel,-24} {k.CallsPerToken,10:F1} {k.MillisecondsPerToken,10:F3} {k.WeightBytesPerToken / 1e6,14:F2} {k.GBs,8:F2} {k.FractionOfCopy,8:P0}"));
        }

        return s.ToString();
    }

    public static string Markdown(BenchResult r)
    {
        var s = new StringBuilder();
        s.AppendLine(Invariant($"**{Header(r)}**")).AppendLine();
        s.AppendLine("| metric | value | unit |").AppendLine("|---|---:|---|");
        foreach (Metric m in Metrics(r))
        {
            s.AppendLine(Invariant($"| {m.Label.Trim()} | {Format(m.Value)} | {m.Unit} |"));
        }

        s.AppendLine().AppendLine("| kernel | calls/token | ms/token | weight MB/token | GB/s | of copy bandwidth |").AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (KernelTiming k in r.Kernels)
        {
            s.AppendLine(Invariant($"| {k.Kernel} | {k.CallsPerToken:F1} | {k.MillisecondsPerToken:F3} | {k.WeightBytesPerToken / 1e6:F2} | {k.GBs:F2} | {k.FractionOfCopy:P0} |"));
        }

        return s.ToString();
    }

    public static string Csv(BenchResult r)
    {
        var s = new StringBuilder("section,name,value,unit\n");
        s.AppendLine(Invariant($"run,device,\"{r.Device.Replace("\"", "\"\"", StringComparison.Ordinal)}\","));
        s.AppendLine(Invariant($"run,layers,{r.Layers},"));
        s.AppendLine(Invariant($"run,weights,{r.Format},"));
        foreach (Metric m in Metrics(r))
        {
            s.AppendLine(Invariant($"metric,{m.Key},{m.Value:R},{m.Unit}"));
        }

        foreach (KernelTiming k in r.Kernels)
        {
            s.AppendLine(Invariant($"kernel,{k.Kernel}.calls_per_token,{k.CallsPerToken:R},"));
            s.AppendLine(Invariant($"kernel,{k.Kernel}.ms_per_token,{k.MillisecondsPerToken:R},ms"));
            s.AppendLine(Invariant($"kernel,{k.Kernel}.weight_bytes_per_token,{k.WeightBytesPerToken},B"));
            s.AppendLine(Invariant($"kernel,{k.Kernel}.gb_per_second,{k.GBs:R},GB/s"));
            s.AppendLine(Invariant($"kernel,{k.Kernel}.fraction_of_copy,{k.FractionOfCopy:R},"));
        }

        return s.ToString();
    }

    public static string Json(BenchResult r)
    {
        var metrics = new JsonObject();
        foreach (Metric m in Metrics(r))
        {
            metrics[m.Key] = double.IsFinite(m.Value) ? m.Value : null;
        }

        var o = new JsonObject
        {
            ["device"] = r.Device,
            ["layers"] = r.Layers,
            ["weights"] = r.Format.ToString(),
            ["prompt_tokens"] = r.Settings.PromptTokens,
            ["decode_tokens"] = r.Settings.DecodeTokens,
            ["repetitions"] = r.Settings.Repetitions,
            ["metrics"] = metrics,
            ["kernels"] = new JsonArray([.. r.Kernels.Select(k => (JsonNode)new JsonObject
            {
                ["kernel"] = k.Kernel,
                ["calls_per_token"] = k.CallsPerToken,
                ["ms_per_token"] = k.MillisecondsPerToken,
                ["weight_bytes_per_token"] = k.WeightBytesPerToken,
                ["gb_per_second"] = k.GBs,
                ["fraction_of_copy"] = k.FractionOfCopy,
            })]),
        };
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string Format(double v) => Math.Abs(v) >= 1e6 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
