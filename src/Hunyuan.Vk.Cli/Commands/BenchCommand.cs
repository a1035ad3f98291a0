using System.CommandLine;
using System.Diagnostics;
using Hunyuan.Vk.Benchmarking;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Generation;
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
        var depth = new Option<int>("--depth", "-d") { Description = "Positions already in the KV cache before the prompt (llama-bench's -d): prompt and decode are measured after them; filled with constant K and V, not computed", DefaultValueFactory = _ => 0 };
        var repetitions = new Option<int>("--repetitions", "-r") { Description = "Timed repetitions (after one warm-up)", DefaultValueFactory = _ => 3 };
        var weights = CliOptions.Weights();
        var output = new Option<string>("--output", "-o") { Description = "table, json, csv or md", DefaultValueFactory = _ => "table" };
        output.AcceptOnlyFromAmong("table", "json", "csv", "md");
        var overlap = new Option<bool>("--overlap-recording") { Description = "Record the next decode step while the device runs this one (true or false)", DefaultValueFactory = _ => true };
        var device = CliOptions.Executor();
        var threads = CliOptions.Threads();
        var deviceMemory = CliOptions.DeviceMemory();
        var hostExperts = CliOptions.HostExperts();
        var kv = CliOptions.KvCache();
        var command = new Command("bench", "Measure prompt and decode speed, per-kernel time and bandwidth, host overhead and the decode floor");
        foreach (Option o in new Option[] { model, preset, layers, shared, prompt, decode, depth, repetitions, weights, output, overlap, device, threads, deviceMemory, hostExperts, kv })
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
            LoadOptions placement = CliOptions.Placement(parse.GetValue(deviceMemory), parse.GetValue(hostExperts)!, parse.GetValue(kv)!);
            var settings = new BenchSettings(parse.GetValue(prompt), parse.GetValue(decode), parse.GetValue(repetitions))
            {
                OverlapRecording = parse.GetValue(overlap), Depth = parse.GetValue(depth), KvFormat = placement.KvCache,
            };
            if (settings.PromptTokens < 1 || settings.DecodeTokens < 1 || settings.Repetitions < 1)
            {
                throw new ArgumentException("--prompt-tokens, --decode-tokens and --repetitions must be at least 1");
            }

            if (settings.Depth < 0 || (long)settings.Depth + settings.PromptTokens + settings.DecodeTokens + 2 > int.MaxValue)
            {
                throw new ArgumentException($"--depth must be 0 or more, with the prompt and decode tokens within {int.MaxValue} positions; got {settings.Depth}");
            }

            void Log(string message) => Console.Error.WriteLine("hyvk bench: " + message);
            ExecutorChoice choice = ExecutorChoice.Parse(parse.GetValue(device))!.Value.Resolve(out string why);
            long loadStart = Stopwatch.GetTimestamp();
            using ModelWeights? checkpoint = dir is null ? null : ModelWeights.Open(dir);
            HunyuanConfig c = checkpoint?.Config ?? new CheckpointGenerator(new GeneratorOptions { Preset = GeneratorOptions.ParsePreset(parse.GetValue(preset)), Layers = parse.GetValue(layers) }).Config;
            BenchReport.BenchSheet sheet;
            if (choice.Host)
            {
                HunyuanEngine.RefuseDevicePlacement(placement.DeviceMemory, placement.HostExperts, why);
                Log($"running on the host executor: {why}");
                HostModel onHost = checkpoint is not null
                    ? HostLoader.Load(checkpoint, format, settings.ContextLength, placement.KvCache, Log)
                    : HostLoader.Random(c, format, settings.ContextLength, placement.KvCache, parse.GetValue(shared), Log,
                        pr => Log(FormattableString.Invariant($"made {pr.LayersDone}/{pr.Layers} layers, {pr.DeviceBytes / 1e9:F2} GB")));
                double hostLoad = Stopwatch.GetElapsedTime(loadStart).TotalSeconds;
                sheet = BenchReport.Sheet(HostBenchmark.Run(onHost, settings, parse.GetValue(threads), Log) with { LoadSeconds = hostLoad });
            }
            else
            {
                using var instance = new VulkanInstance();
                using GpuContext gpu = instance.CreateContext(choice.DeviceIndex);
                Log($"running on {gpu.Info.Name}: {why}");
                gpu.Log = Log;
                using DeviceModel loaded = checkpoint is not null
                    ? ModelLoader.Load(gpu, checkpoint, format, settings.ContextLength, placement, out _, Log)
                    : ModelLoader.Random(gpu, c, format, settings.ContextLength, placement, parse.GetValue(shared), out _, Log,
                        pr => Log(FormattableString.Invariant($"made {pr.LayersDone}/{pr.Layers} layers, {pr.DeviceBytes / 1e9:F2} GB")));
                double loadSeconds = Stopwatch.GetElapsedTime(loadStart).TotalSeconds;
                sheet = BenchReport.Sheet(DecodeBenchmark.Run(gpu, loaded, settings, Log) with { LoadSeconds = loadSeconds, LoadedBytes = loaded.DeviceBytes });
            }

            Console.Out.Write(parse.GetValue(output) switch
            {
                "json" => BenchReport.Json(sheet),
                "csv" => BenchReport.Csv(sheet),
                "md" => BenchReport.Markdown(sheet),
                _ => BenchReport.Table(sheet),
            });
            return 0;
        }));
        return command;
    }
}
