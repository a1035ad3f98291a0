using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Benchmarking;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Cli;

/// <summary>Writes a <see cref="BenchResult"/> (a device) or a <see cref="HostBenchResult"/> (the host executor) as a table
/// for people, or as JSON, CSV or Markdown.</summary>
internal static class BenchReport
{
    internal sealed record Metric(string Key, double Value, string Unit, string Label);

    private static List<Metric> Metrics(BenchResult r) =>
    [
        new("copy_bandwidth", r.CopyBandwidthGBs, "GB/s", "device copy bandwidth (read + write)"),
        new("load_seconds", r.LoadSeconds, "s", "load: weights to the device (conversion included)"),
        new("load_gb_per_second", r.LoadGBs, "GB/s", "load: device bytes over load time"),
        .. Speed(r.PromptTokensPerSecond, r.TimeToFirstTokenMs, r.DecodeTokensPerSecond),
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

    // The speeds either executor reports, as llama-bench does: mean and spread over the repetitions.
    private static Metric[] Speed(Stats prompt, Stats ttft, Stats decode) =>
    [
        new("prompt_tokens_per_second", prompt.Mean, "tok/s", "prompt processing"),
        new("prompt_tokens_per_second_stddev", prompt.StdDev, "tok/s", "  spread (stddev)"),
        new("time_to_first_token", ttft.Mean, "ms", "time to first token"),
        new("time_to_first_token_stddev", ttft.StdDev, "ms", "  spread (stddev)"),
        new("decode_tokens_per_second", decode.Mean, "tok/s", "decode"),
        new("decode_tokens_per_second_stddev", decode.StdDev, "tok/s", "  spread (stddev)"),
        new("decode_ms_per_token", 1e3 / decode.Mean, "ms", "decode time per token"),
    ];

    private static string Header(BenchResult r) => Invariant(
        $"{r.Device}: {r.Layers} layers, {r.Format}, KV {r.KvFormat.Name()}, prompt {r.Settings.PromptTokens}, decode {r.Settings.DecodeTokens}{(r.Depth > 0 ? $" @ depth {r.Depth}" : string.Empty)}, {r.Settings.Repetitions} repetitions");

    /// <summary>A column of the per-kernel (per-op) rows: its key, its heading, its unit, its text format.</summary>
    internal sealed record Column(string Key, string Heading, string Unit, string Format, int Width);

    /// <summary>What a report holds, whichever executor ran: the header, the run's fields, the metrics, the roofline line
    /// and the rows per kernel (device) or op (host).</summary>
    internal sealed record BenchSheet(string Header, IReadOnlyList<(string Key, JsonNode Value)> Run, IReadOnlyList<Metric> Metrics, string Roofline, string RowKind,
        IReadOnlyList<Column> Columns, IReadOnlyList<(string Name, double[] Values)> Rows);

    private static readonly Column[] s_kernelColumns =
    [
        new("calls_per_token", "calls/tok", string.Empty, "F1", 10),
        new("ms_per_token", "ms/tok", "ms", "F3", 10),
        new("weight_bytes_per_token", "weight MB/tok", "B", "MB", 14),
        new("gb_per_second", "GB/s", "GB/s", "F2", 8),
        new("fraction_of_copy", "of copy", string.Empty, "P0", 8),
    ];

    private static readonly Column[] s_opColumns =
    [
        new("ms_per_token", "ms/tok", "ms", "F3", 10),
        new("bytes_per_token", "MB/tok", "B", "MB", 10),
        new("gb_per_second", "GB/s", "GB/s", "F2", 8),
        new("gmac_per_second", "GMAC/s", "GMAC/s", "F1", 8),
        new("fraction_of_bandwidth", "of host bw", string.Empty, "P0", 10),
    ];

    public static BenchSheet Sheet(BenchResult r) => new(Header(r),
        [("device", r.Device), ("layers", r.Layers), ("weights", r.Format.ToString()), ("prompt_tokens", r.Settings.PromptTokens),
            ("decode_tokens", r.Settings.DecodeTokens), ("repetitions", r.Settings.Repetitions)],
        Metrics(r),
        Invariant($"roofline: floor {r.FloorMsPerToken:F2} ms/token ({r.MinimumBytesPerToken / 1e9:F3} GB at {r.CopyBandwidthGBs:F1} GB/s), measured {r.DecodeMsPerToken:F2} ms/token = {r.DecodeMsPerToken / r.FloorMsPerToken:F2}x the floor"),
        "kernel", s_kernelColumns,
        [.. r.Kernels.Select(k => (k.Kernel, new[] { k.CallsPerToken, k.MillisecondsPerToken, k.WeightBytesPerToken, k.GBs, k.FractionOfCopy }))]);

    /// <summary>The host executor's report: its ops per decode token, then per prompt token.</summary>
    public static BenchSheet Sheet(HostBenchResult r) => new(
        Invariant($"{r.Executor} ({r.Threads} threads, {r.InstructionSet}): {r.Layers} layers, {r.Format}, KV {r.Settings.KvFormat.Name()}, prompt {r.Settings.PromptTokens}, decode {r.Settings.DecodeTokens}{(r.Settings.Depth > 0 ? $" @ depth {r.Settings.Depth}" : string.Empty)}, {r.Settings.Repetitions} repetitions"),
        [("device", "host executor"), ("threads", r.Threads), ("instruction_set", r.InstructionSet), ("layers", r.Layers), ("weights", r.Format.ToString()),
            ("prompt_tokens", r.Settings.PromptTokens), ("decode_tokens", r.Settings.DecodeTokens), ("repetitions", r.Settings.Repetitions)],
        [
            new("host_bandwidth", r.HostBandwidthGBs, "GB/s", "host read bandwidth"),
            new("load_seconds", r.LoadSeconds, "s", "load: weights into host memory (conversion included)"),
            new("weight_bytes", r.WeightBytes, "B", "host memory: weights"),
            new("kv_cache_bytes", r.KvCacheBytes, "B", $"host memory: KV cache ({r.Settings.KvFormat.Name()})"),
            .. Speed(r.PromptTokensPerSecond, r.TimeToFirstTokenMs, r.DecodeTokensPerSecond),
            new("weight_bytes_per_token", r.WeightBytesPerToken, "B", "weight bytes read per token"),
            new("kv_bytes_per_token", r.KvBytesPerToken, "B", "attention: KV bytes read per token"),
            new("floor_ms_per_token", r.FloorMsPerToken, "ms", "roofline: decode floor at host bandwidth"),
            new("measured_over_floor", r.DecodeMsPerToken / r.FloorMsPerToken, "x", "roofline: measured / floor"),
        ],
        Invariant($"roofline: floor {r.FloorMsPerToken:F2} ms/token ({(r.WeightBytesPerToken + r.KvBytesPerToken) / 1e9:F3} GB at {r.HostBandwidthGBs:F1} GB/s), measured {r.DecodeMsPerToken:F2} ms/token = {r.FloorMsPerToken / r.DecodeMsPerToken:P0} of the floor's speed"),
        "op", s_opColumns,
        [.. r.DecodeOps.Select(o => (o.Op, Values(o))), .. r.PromptOps.Select(o => ("prompt " + o.Op, Values(o)))]);

    private static double[] Values(HostOpTiming o) => [o.MillisecondsPerToken, o.BytesPerToken, o.GBs, o.GMacs, o.FractionOfBandwidth];

    private static string Cell(Column c, double v) => c.Format switch
    {
        "MB" => (v / 1e6).ToString("F2", CultureInfo.InvariantCulture),
        string f => v.ToString(f, CultureInfo.InvariantCulture),
    };

    public static string Table(BenchSheet r)
    {
        var s = new StringBuilder();
        s.AppendLine(r.Header);
        foreach (Metric m in r.Metrics)
        {
            s.AppendLine(Invariant($"  {m.Label,-48} {Format(m.Value),14} {m.Unit}"));
        }

        s.AppendLine("  " + r.Roofline);
        s.AppendLine();
        s.Append(Invariant($"  {r.RowKind,-24}"));
        foreach (Column c in r.Columns)
        {
            s.Append(' ').Append(c.Heading.PadLeft(c.Width));
        }

        s.AppendLine();
        foreach ((string name, double[] values) in r.Rows)
        {
            s.Append(Invariant($"  {name,-24}"));
            for (int i = 0; i < values.Length; i++)
            {
                s.Append(' ').Append(Cell(r.Columns[i], values[i]).PadLeft(r.Columns[i].Width));
            }

            s.AppendLine();
        }

        return s.ToString();
    }

    public static string Markdown(BenchSheet r)
    {
        var s = new StringBuilder();
        s.AppendLine(Invariant($"**{r.Header}**")).AppendLine();
        s.AppendLine("| metric | value | unit |").AppendLine("|---|---:|---|");
        foreach (Metric m in r.Metrics)
        {
            s.AppendLine(Invariant($"| {m.Label.Trim()} | {Format(m.Value)} | {m.Unit} |"));
        }

        s.AppendLine().Append("| ").Append(r.RowKind).Append(" |").AppendLine(string.Concat(r.Columns.Select(c => $" {c.Heading} |")));
        s.Append("|---|").AppendLine(string.Concat(r.Columns.Select(_ => "---:|")));
        foreach ((string name, double[] values) in r.Rows)
        {
            s.Append("| ").Append(name).Append(" |").AppendLine(string.Concat(values.Select((v, i) => $" {Cell(r.Columns[i], v)} |")));
        }

        return s.ToString();
    }

    public static string Csv(BenchSheet r)
    {
        var s = new StringBuilder("section,name,value,unit\n");
        foreach ((string key, JsonNode value) in r.Run)
        {
            string text = value.GetValueKind() == JsonValueKind.String ? $"\"{value.GetValue<string>().Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : value.ToJsonString();
            s.AppendLine(Invariant($"run,{key},{(key is "weights" or "instruction_set" ? value.GetValue<string>() : text)},"));
        }

        foreach (Metric m in r.Metrics)
        {
            s.AppendLine(Invariant($"metric,{m.Key},{m.Value:R},{m.Unit}"));
        }

        foreach ((string name, double[] values) in r.Rows)
        {
            for (int i = 0; i < values.Length; i++)
            {
                Column c = r.Columns[i];
                s.AppendLine(Invariant($"{r.RowKind},{name}.{c.Key},{(c.Format == "MB" ? ((long)values[i]).ToString(CultureInfo.InvariantCulture) : values[i].ToString("R", CultureInfo.InvariantCulture))},{c.Unit}"));
            }
        }

        return s.ToString();
    }

    public static string Json(BenchSheet r)
    {
        var metrics = new JsonObject();
        foreach (Metric m in r.Metrics)
        {
            metrics[m.Key] = double.IsFinite(m.Value) ? m.Value : null;
        }

        var o = new JsonObject();
        foreach ((string key, JsonNode value) in r.Run)
        {
            o[key] = value.DeepClone();
        }

        o["metrics"] = metrics;
        o[r.RowKind + "s"] = new JsonArray([.. r.Rows.Select(row =>
        {
            var item = new JsonObject { [r.RowKind] = row.Name };
            for (int i = 0; i < row.Values.Length; i++)
            {
                item[r.Columns[i].Key] = r.Columns[i].Format == "MB" ? (long)row.Values[i] : double.IsFinite(row.Values[i]) ? row.Values[i] : null;
            }

            return (JsonNode)item;
        })]);
        return o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n";
    }

    private static string Format(double v) => Math.Abs(v) >= 1e6 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
