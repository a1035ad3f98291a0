using System.Diagnostics;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Benchmarking;

/// <summary>One op of the host executor per token: its time, the weight (or KV) bytes it reads, the multiply-adds it
/// does, and what those make against the host's read bandwidth.</summary>
public sealed record HostOpTiming(string Op, double MillisecondsPerToken, long BytesPerToken, double MacsPerToken, double HostBandwidthGBs)
{
    public double GBs => MillisecondsPerToken > 0 ? BytesPerToken / (MillisecondsPerToken * 1e6) : 0;
    public double GMacs => MillisecondsPerToken > 0 ? MacsPerToken / (MillisecondsPerToken * 1e6) : 0;
    public double FractionOfBandwidth => HostBandwidthGBs > 0 ? GBs / HostBandwidthGBs : 0;
}

/// <summary>Everything <c>hyvk bench</c> reports for the host executor.</summary>
public sealed record HostBenchResult
{
    public required string Executor { get; init; }
    public required int Threads { get; init; }
    public required string InstructionSet { get; init; }
    public required int Layers { get; init; }
    public required WeightFormat Format { get; init; }
    public required BenchSettings Settings { get; init; }
    public required double HostBandwidthGBs { get; init; }
    public required Stats PromptTokensPerSecond { get; init; }
    public required Stats TimeToFirstTokenMs { get; init; }
    public required Stats DecodeTokensPerSecond { get; init; }

    /// <summary>Per decoded token, and per prompt token, each op.</summary>
    public required IReadOnlyList<HostOpTiming> DecodeOps { get; init; }
    public required IReadOnlyList<HostOpTiming> PromptOps { get; init; }

    /// <summary>Weight bytes a decode token reads, and the KV bytes its attention reads.</summary>
    public required long WeightBytesPerToken { get; init; }
    public required long KvBytesPerToken { get; init; }
    public required long KvCacheBytes { get; init; }
    public required long WeightBytes { get; init; }
    public double LoadSeconds { get; init; }

    public double DecodeMsPerToken => 1e3 / DecodeTokensPerSecond.Mean;

    /// <summary>The decode floor: weight and KV bytes per token at the host's read bandwidth.</summary>
    public double FloorMsPerToken => (WeightBytesPerToken + KvBytesPerToken) / (HostBandwidthGBs * 1e6);
}

/// <summary>
/// llama-bench-style measurement of the host executor, as <see cref="DecodeBenchmark"/> does for a device: the host's
/// read bandwidth, then per repetition (after a warm-up) the prompt and the decode, with each op's time per token
/// from the session's own clock (<see cref="HostSession.OpTime"/>), its bytes and multiply-adds from the shapes.
/// </summary>
public static class HostBenchmark
{
    public static HostBenchResult Run(HostModel model, BenchSettings settings, int threads = 0, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        HunyuanConfig c = model.Config;
        progress?.Invoke("measuring the host's read bandwidth");
        double hostGbs = HostBandwidth.Measure(threads: threads);
        var random = new Random(settings.Seed);
        int[] prompt = [.. Enumerable.Range(0, settings.PromptTokens).Select(_ => random.Next(c.VocabSize))];
        using var session = new HostSession(model, settings.ContextLength, kvFormat: settings.KvFormat, threads: threads);
        progress?.Invoke("warming up");
        session.FillForBenchmark(settings.Depth);
        int warm = session.Prefill(prompt[..Math.Min(prompt.Length, session.PrefillChunk)]);
        for (int i = 0; i < 2; i++)
        {
            warm = Math.Max(0, session.Step(warm));
        }

        var promptRates = new List<double>();
        var ttft = new List<double>();
        var decodeRates = new List<double>();
        var promptTimes = new double[Enum.GetValues<HostOp>().Length];
        var decodeTimes = new double[promptTimes.Length];
        long kvBytes = 0;
        for (int rep = 0; rep < settings.Repetitions; rep++)
        {
            progress?.Invoke($"repetition {rep + 1}/{settings.Repetitions}");
            session.FillForBenchmark(settings.Depth);
            session.ResetOpTimes();
            long start = Stopwatch.GetTimestamp();
            int token = session.Prefill(prompt);
            double prefillSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            promptRates.Add(settings.PromptTokens / prefillSeconds);
            ttft.Add(prefillSeconds * 1e3);
            Collect(session, promptTimes);
            session.ResetOpTimes();
            start = Stopwatch.GetTimestamp();
            for (int i = 0; i < settings.DecodeTokens; i++)
            {
                kvBytes += rep == 0 ? session.KvBytesRead(session.Position + 1) : 0;
                token = Math.Max(0, session.Step(token));   // random weights: a non-finite logit only ends a real generation
            }

            decodeRates.Add(settings.DecodeTokens / Stopwatch.GetElapsedTime(start).TotalSeconds);
            Collect(session, decodeTimes);
        }

        double decodeTokens = (double)settings.DecodeTokens * settings.Repetitions, promptTokens = (double)settings.PromptTokens * settings.Repetitions;
        long kvPerToken = kvBytes / settings.DecodeTokens;
        int seen = settings.Depth + settings.PromptTokens + settings.DecodeTokens / 2;
        return new HostBenchResult
        {
            Executor = "host executor",
            Threads = session.Threads,
            InstructionSet = HostKernels.Best.ToString(),
            Layers = c.Layers,
            Format = model.Format,
            Settings = settings,
            HostBandwidthGBs = hostGbs,
            PromptTokensPerSecond = Stats.Of(promptRates),
            TimeToFirstTokenMs = Stats.Of(ttft),
            DecodeTokensPerSecond = Stats.Of(decodeRates),
            DecodeOps = Ops(model, decodeTimes, decodeTokens, seen, kvPerToken, hostGbs, prompt: 0),
            PromptOps = Ops(model, promptTimes, promptTokens, settings.Depth + settings.PromptTokens / 2, 0, hostGbs, prompt: settings.PromptTokens),
            WeightBytesPerToken = model.DecodeBytes,
            KvBytesPerToken = kvPerToken,
            KvCacheBytes = session.KvCacheBytes,
            WeightBytes = model.Bytes,
        };
    }

    private static void Collect(HostSession session, double[] into)
    {
        foreach (HostOp op in Enum.GetValues<HostOp>())
        {
            into[(int)op] += session.OpTime(op).TotalMilliseconds;
        }
    }

    // Each op's bytes and multiply-adds per token, from the shapes: a decode token reads every weight it uses; a
    // prompt token's share of a chunk's weights is left out (bytes 0). A prompt of P tokens runs the last layer past
    // its KV append (attention, O, router, experts) and the head for its last token only: 1 / P of a layer per token.
    private static List<HostOpTiming> Ops(HostModel model, double[] ms, double tokens, int seen, long kvBytes, double hostGbs, int prompt)
    {
        HunyuanConfig c = model.Config;
        HostModel.Layer l = model.Layers[0];
        int layers = c.Layers;
        bool isPrompt = prompt > 0;
        long Bytes(long b) => isPrompt ? 0 : b;
        double tail = isPrompt ? layers - 1 + 1.0 / prompt : layers, head = isPrompt ? 1.0 / prompt : 1;
        double attention = 2.0 * c.Heads * c.HeadDim * (isPrompt ? (layers - 1) * seen + (seen + prompt / 2.0) / prompt : layers * seen);
        double experts = c.RouteSlots * 3.0 * c.HiddenSize * c.ExpertIntermediate;
        (HostOp Op, long Bytes, double Macs)[] rows =
        [
            (HostOp.Embed, Bytes(model.Embedding.Bytes / c.VocabSize), 0),
            (HostOp.Norm, 0, 0),
            (HostOp.Qkv, Bytes(layers * l.Qkv.Bytes), layers * (double)l.Qkv.Rows * l.Qkv.Cols),
            (HostOp.Rope, 0, 0),
            (HostOp.Attention, kvBytes, attention),
            (HostOp.O, Bytes(layers * l.O.Bytes), tail * l.O.Rows * l.O.Cols),
            (HostOp.Router, Bytes(layers * l.Router.Bytes), tail * l.Router.Rows * l.Router.Cols),
            (HostOp.Route, 0, 0),
            (HostOp.Experts, Bytes(layers * c.RouteSlots * l.Experts.BytesPerExpert), tail * experts),
            (HostOp.Head, Bytes(model.LmHead.Bytes), head * model.LmHead.Rows * model.LmHead.Cols),
            (HostOp.Choice, 0, 0),
        ];
        return [.. rows.Select(r => new HostOpTiming(r.Op.ToString().ToLowerInvariant(), ms[(int)r.Op] / tokens, r.Bytes, r.Macs, hostGbs))];
    }
}
