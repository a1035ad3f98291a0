using System.Diagnostics;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Benchmarking;

/// <summary>What to measure: prompt tokens, generated tokens, repetitions, and how many decode steps to profile.</summary>
public sealed record BenchSettings(int PromptTokens, int DecodeTokens, int Repetitions, int ProfiledSteps = 4, int Seed = 1)
{
    /// <summary>Record step N+1 while the device runs step N (the default).</summary>
    public bool OverlapRecording { get; init; } = true;

    /// <summary>Positions already in the cache when the prompt starts (llama-bench's <c>-d</c>): prompt and decode are
    /// measured after them.</summary>
    public int Depth { get; init; }

    /// <summary>How the KV cache stores keys and values.</summary>
    public KvCacheFormat KvFormat { get; init; } = KvCacheFormat.F16;

    /// <summary>Positions the session's cache needs: depth, prompt, generated tokens and the warm-up's.</summary>
    public int ContextLength => Depth + PromptTokens + DecodeTokens + 2;
}

/// <summary>
/// llama-bench-style measurement of a loaded model: the device's copy bandwidth first, then per repetition (after a
/// warm-up) the prompt (prefill, its time is the time to first token) and the decode of generated tokens, then a few
/// decode steps timed per dispatch on the GPU. Token ids are random: speed does not depend on them (except the experts
/// chosen, which is why the bytes read are counted from the kernels themselves). At a depth, each repetition starts
/// from a cache whose first positions are filled with constant K and V (<see cref="DecodeSession.FillForBenchmark"/>):
/// attention reads them as it would real ones.
/// </summary>
public static class DecodeBenchmark
{
    public static BenchResult Run(GpuContext context, DeviceModel model, BenchSettings settings, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        HunyuanConfig c = model.Config;
        progress?.Invoke("measuring the device's copy bandwidth");
        double copyGbs = CopyBandwidth.Measure(context);
        double hostGbs = 0;
        if (model.HostLayers > 0)
        {
            progress?.Invoke("measuring the host's read bandwidth");
            hostGbs = HostBandwidth.Measure();
        }

        var random = new Random(settings.Seed);
        int[] prompt = [.. Enumerable.Range(0, settings.PromptTokens).Select(_ => random.Next(c.VocabSize))];
        using var session = new DecodeSession(context, model, settings.ContextLength, overlapRecording: settings.OverlapRecording, kvFormat: settings.KvFormat);
        void Start() => session.FillForBenchmark(settings.Depth);

        progress?.Invoke("warming up (pipelines, first-use compiles)");
        Start();
        int warm = session.Prefill(prompt[..Math.Min(prompt.Length, session.PrefillChunk)]);
        for (int i = 0; i < 2; i++)
        {
            warm = session.Step(warm);
        }

        var promptRates = new List<double>();
        var ttft = new List<double>();
        var decodeRates = new List<double>();
        var host = new List<StepCounters>();
        long submits = 0;
        for (int rep = 0; rep < settings.Repetitions; rep++)
        {
            progress?.Invoke($"repetition {rep + 1}/{settings.Repetitions}");
            Start();
            long start = Stopwatch.GetTimestamp();
            int token = session.Prefill(prompt);
            double prefillSeconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            promptRates.Add(settings.PromptTokens / prefillSeconds);
            ttft.Add(prefillSeconds * 1e3);
            start = Stopwatch.GetTimestamp();
            long submitsBefore = context.Submits;
            for (int i = 0; i < settings.DecodeTokens; i++)
            {
                token = session.Step(token);
                host.Add(session.LastStep);
            }

            submits += context.Submits - submitsBefore;

            decodeRates.Add(settings.DecodeTokens / Stopwatch.GetElapsedTime(start).TotalSeconds);
        }

        progress?.Invoke("timing each kernel");
        var kernels = new Dictionary<string, KernelAccumulator>();
        double layersMs = 0, otherMs = 0, attentionMs = 0;
        long kvBytes = 0;
        int steps = Math.Max(1, Math.Min(settings.ProfiledSteps, settings.DecodeTokens));
        using (var profile = new DispatchProfile(context, 4096))
        {
            Start();
            int token = session.Prefill(prompt);
            session.SetProfile(profile);
            for (int s = 0; s < steps; s++)
            {
                kvBytes += session.KvBytesRead(session.Position + 1);
                token = session.Step(token);
                Range layers = session.LastStep.LayerDispatches;
                IReadOnlyList<DispatchTiming> timings = profile.Read();
                int dispatch = 0;   // host waits are entries of the profile, not dispatches, and not device work
                for (int i = 0; i < timings.Count; i++)
                {
                    DispatchTiming t = timings[i];
                    KernelAccumulator a = kernels.TryGetValue(t.Pipeline, out KernelAccumulator? found) ? found : kernels[t.Pipeline] = new KernelAccumulator();
                    a.Add(t);
                    if (t.Pipeline == DispatchProfile.HostWait)
                    {
                        continue;
                    }

                    attentionMs += t.Pipeline.StartsWith("attn_", StringComparison.Ordinal) ? t.Milliseconds : 0;
                    bool inLayers = dispatch >= layers.Start.Value && dispatch < layers.End.Value;
                    layersMs += inLayers ? t.Milliseconds : 0;
                    otherMs += inLayers ? 0 : t.Milliseconds;
                    dispatch++;
                }
            }

            session.SetProfile(null);
        }

        var kernelRows = kernels.Select(k => new KernelTiming(k.Key, k.Value.Calls / (double)steps, k.Value.Milliseconds / steps,
                (long)(k.Value.WeightBytes / (ulong)steps), copyGbs))
            .OrderByDescending(k => k.MillisecondsPerToken).ToList();
        double hostMs = host.Average(h => h.HostOverhead.TotalMilliseconds);
        double hostExpertMs = host.Average(h => h.HostExperts.Compute.TotalMilliseconds);
        double decodeMs = 1e3 / Stats.Of(decodeRates).Mean;
        double perLayerGpu = layersMs / steps / c.Layers, headGpu = otherMs / steps;
        StepCounters last = host[^1];
        // Host time goes with the dispatches recorded: scale it to the dispatches of a full-depth step.
        int layerDispatches = last.LayerDispatches.End.Value - last.LayerDispatches.Start.Value;
        double fullDepthDispatches = last.Dispatches - layerDispatches + layerDispatches * 32.0 / c.Layers;
        return new BenchResult
        {
            Device = context.Info.Name,
            Layers = c.Layers,
            Format = model.Format,
            Settings = settings,
            CopyBandwidthGBs = copyGbs,
            PromptTokensPerSecond = Stats.Of(promptRates),
            TimeToFirstTokenMs = Stats.Of(ttft),
            DecodeTokensPerSecond = Stats.Of(decodeRates),
            DispatchesPerToken = last.Dispatches,
            DispatchesPerLayer = (last.LayerDispatches.End.Value - last.LayerDispatches.Start.Value) / (double)c.Layers,
            BarriersPerToken = last.Barriers,
            SubmitsPerToken = submits / (double)host.Count,
            HostRecordMs = host.Average(h => h.Record.TotalMilliseconds),
            HostSubmitMs = host.Average(h => h.Submit.TotalMilliseconds),
            HostExposedMs = host.Average(h => h.Exposed.TotalMilliseconds),
            OverlapsRecording = session.OverlapsRecording,
            WeightBytesPerToken = (long)last.WeightBytes,
            MinimumBytesPerToken = ActiveWeights.PerToken(c, model.Format, c.Layers),
            PeakDeviceBytes = context.PeakAllocatedBytes,
            Kernels = kernelRows,
            GpuMsPerLayer = perLayerGpu,
            GpuMsOutsideLayers = headGpu,
            FullDepthLayers = 32,
            FullDepthMsPerToken = headGpu + 32 * perLayerGpu,
            FullDepthHostMs = hostMs * fullDepthDispatches / last.Dispatches,
            FullDepthMinimumBytes = ActiveWeights.PerToken(c, model.Format, 32),
            HostLayers = model.HostLayers,
            HostBytes = model.HostBytes,
            HostBandwidthGBs = hostGbs,
            HostExpertMs = hostExpertMs,
            HostWaitMs = host.Average(h => h.HostExperts.WaitedForDevice.TotalMilliseconds),
            HostExpertBytesPerToken = (long)host.Average(h => h.HostExperts.WeightBytes),
            HandOffsPerToken = last.HostExperts.HandOffs,
            // The device's work done while the host computed: what a serial schedule would have added.
            // (None where the device does not overlap: a CPU device waits at each hand-off.)
            Depth = settings.Depth,
            KvFormat = settings.KvFormat,
            KvCacheBytes = session.KvCacheBytes,
            KvPagePositions = session.KvPagePositions,
            AttentionMsPerToken = attentionMs / steps,
            KvBytesPerToken = kvBytes / steps,
            GpuMsPerToken = (layersMs + otherMs) / steps,
            OverlapMs = session.OverlapsHostExperts ? Math.Max(0, (layersMs + otherMs) / steps + hostExpertMs - decodeMs) : 0,
        };
    }

    private sealed class KernelAccumulator
    {
        public int Calls { get; private set; }
        public double Milliseconds { get; private set; }
        public ulong WeightBytes { get; private set; }

        public void Add(DispatchTiming t)
        {
            Calls++;
            Milliseconds += t.Milliseconds;
            WeightBytes += t.StreamedBytes;
        }
    }
}
