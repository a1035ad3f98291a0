using System.CommandLine;
using System.Diagnostics;
using Hunyuan.Vk.Benchmarking;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Model.Synthetic;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Cli.Commands;

/// <summary>
/// <c>hyvk bench</c>: prompt and decode speed, time to first token, per-kernel GPU time and bandwidth, host overhead,
/// bytes read against the minimum, and the decode floor of the device, on a checkpoint or on random weights of a
/// preset's real shape (no download).
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Benchmark this checkpoint directory" };
        var preset = new Option<string?>("--preset") { Description = "Benchmark random weights of a preset's shape instead: a13b (the real dimensions), small, tiny" };
        preset.AcceptOnlyFromAmong("tiny", "small", "a13b");
        var layers = new Option<int?>("--layers") { Description = "With --preset: number of layers (default: the preset's; a13b layers take about 1.4 GB each at q4)" };
        var shared = new Option<bool>("--shared-weights") { Description = "With --preset: every layer runs the first layer's weights, so a full-depth step fits the memory of one layer" };
        var prompt = new Option<int>("--prompt-tokens", "-p") { Description = "Prompt tokens per repetition", DefaultValueFactory = _ => 512 };
        var decode = new Option<int>("--decode-tokens", "-n") { Description = "Generated tokens per repetition", DefaultValueFactory = _ => 128 };
        var repetitions = new Option<int>("--repetitions", "-r") { Description = "Timed repetitions (after one warm-up)", DefaultValueFactory = _ => 3 };
        var weights = CliOptions.Weights();
        var output = new Option<string>("--output", "-o") { Description = "table, json, csv or md", DefaultValueFactory = _ => "table" };
        output.AcceptOnlyFromAmong("table", "json", "csv", "md");
        var overlap = new Option<bool>("--overlap-recording") { Description = "Record the next decode step while the device runs this one (true or false)", DefaultValueFactory = _ => true };
        var device = CliOptions.Device();
        var command = new Command("bench", "Measure prompt and decode speed, per-kernel time and bandwidth, host overhead and the decode floor");
        foreach (Option o in new Option[] { model, preset, layers, shared, prompt, decode, repetitions, weights, output, overlap, device })
        {
            command.Options.Add(o);
        }

        command.Validators.Add(result =>
        {
            if ((result.GetValue(model) is null) == (result.GetValue(preset) is null))
            {
                result.AddError("Give exactly one of --model or --preset.");
            }

            if (result.GetValue(model) is not null && (result.GetValue(layers) is not null || result.GetValue(shared)))
            {
                result.AddError("--layers and --shared-weights go with --preset; a checkpoint runs all its layers.");
            }
        });
        command.SetAction(parse => CliErrors.Run(() =>
        {
            string? dir = parse.GetValue(model);
            WeightFormat format = dir is null ? WeightFormats.Parse(parse.GetValue(weights)) ?? WeightFormat.Q4 : CliOptions.WeightFormatFor(parse.GetValue(weights), dir);
            var settings = new BenchSettings(parse.GetValue(prompt), parse.GetValue(decode), parse.GetValue(repetitions)) { OverlapRecording = parse.GetValue(overlap) };
            if (settings.PromptTokens < 1 || settings.DecodeTokens < 1 || settings.Repetitions < 1)
            {
                throw new ArgumentException("--prompt-tokens, --decode-tokens and --repetitions must be at least 1");
            }

            using var instance = new VulkanInstance();
            using GpuContext gpu = instance.CreateContext(parse.GetValue(device));
            void Log(string message) => Console.Error.WriteLine("hyvk bench: " + message);
            gpu.Log = Log;
            long loadStart = Stopwatch.GetTimestamp();
            using DeviceModel loaded = dir is not null
                ? LoadCheckpoint(gpu, dir, format, settings.PromptTokens + settings.DecodeTokens + 1, Log)
                : MakeRandom(gpu, parse.GetValue(preset)!, parse.GetValue(layers), parse.GetValue(shared), format, settings.PromptTokens + settings.DecodeTokens + 1, Log);
            double loadSeconds = Stopwatch.GetElapsedTime(loadStart).TotalSeconds;
            BenchResult result = DecodeBenchmark.Run(gpu, loaded, settings, Log) with { LoadSeconds = loadSeconds, LoadedBytes = loaded.DeviceBytes };
            Console.Out.Write(parse.GetValue(output) switch
            {
                "json" => BenchReport.Json(result),
                "csv" => BenchReport.Csv(result),
                "md" => BenchReport.Markdown(result),
                _ => BenchReport.Table(result),
            });
            return 0;
        }));
        return command;
    }

    /// <summary>As generate loads one: the memory estimate first (refusing what cannot fit), then the weights.</summary>
    private static DeviceModel LoadCheckpoint(GpuContext gpu, string dir, WeightFormat format, int contextLength, Action<string> log)
    {
        using ModelWeights w = ModelWeights.Open(dir);
        var estimate = MemoryEstimate.For(w.Config, format, contextLength);
        log(FormattableString.Invariant($"loading {dir} as {format} on {gpu.Info.Name}: about {estimate.TotalBytes / 1e9:F2} GB on the device ({estimate})"));
        estimate.CheckFits(gpu.Info);
        return new DeviceModel(gpu, w, format);
    }

    /// <summary>Random weights at a preset's shape, after the same memory estimate (one layer's weights when all
    /// layers share them).</summary>
    private static DeviceModel MakeRandom(GpuContext gpu, string preset, int? layers, bool shared, WeightFormat format, int contextLength, Action<string> log)
    {
        HunyuanConfig c = new CheckpointGenerator(new GeneratorOptions { Preset = GeneratorOptions.ParsePreset(preset), Layers = layers }).Config;
        MemoryEstimate estimate = MemoryEstimate.For(c, format, contextLength);
        if (shared)
        {
            estimate = estimate with { WeightBytes = MemoryEstimate.For(c with { Layers = 1 }, format, contextLength).WeightBytes };
        }

        log($"random {preset} weights, {c.Layers} layers{(shared ? " sharing one layer's weights" : string.Empty)}, {format}, on {gpu.Info.Name}: "
            + FormattableString.Invariant($"about {estimate.TotalBytes / 1e9:F2} GB on the device ({estimate})"));
        estimate.CheckFits(gpu.Info);
        return DeviceModel.Random(gpu, c, format, oneLayerForAll: shared,
            progress: pr => log(FormattableString.Invariant($"made {pr.LayersDone}/{pr.Layers} layers, {pr.DeviceBytes / 1e9:F2} GB")));
    }
}
