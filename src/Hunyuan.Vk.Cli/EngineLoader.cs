using System.Diagnostics;
using System.Globalization;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Cli;

/// <summary>Loads the engine the way generate and chat do: the demo model when no --model is given, the estimate on
/// stderr, and the load's progress as a bar on a terminal (a closing line otherwise).</summary>
internal static class EngineLoader
{
    public static HunyuanEngine Load(string? modelArg, string? weightsArg, int contextLength, string device, LoadOptions? placement = null, int threads = 0)
    {
        string modelDir = modelArg ?? DemoModel.EnsureExists(message => Console.Error.WriteLine("hyvk: " + message));
        var bar = new ProgressBar();
        return HunyuanEngine.Load(modelDir, new EngineOptions
        {
            Executor = ExecutorChoice.Parse(device) ?? throw new ArgumentException($"--device must be auto, cpu, vulkan or a device index; got '{device}'"),
            Threads = threads,
            Weights = CliOptions.WeightFormatFor(weightsArg, modelDir),
            ContextLength = contextLength,
            DeviceMemory = placement?.DeviceMemory,
            HostExpertLayers = placement?.HostExperts,
            KvCache = placement?.KvCache ?? KvCacheFormat.F16,
            Log = message => Console.Error.WriteLine("hyvk: " + message),
            Progress = bar.Report,
        });
    }

    private sealed class ProgressBar
    {
        private const int Width = 30;
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly bool _terminal = !Console.IsErrorRedirected;

        public void Report(LoadProgress p)
        {
            bool done = p.LayersDone == p.Layers;
            string figures = string.Create(CultureInfo.InvariantCulture,
                $"{p.LayersDone}/{p.Layers} layers, {p.DeviceBytes / 1e9:F2} GB, {_clock.Elapsed.TotalSeconds:F1} s");
            if (_terminal)
            {
                int filled = p.Layers == 0 ? Width : p.LayersDone * Width / p.Layers;
                Console.Error.Write($"\rhyvk: loading [{new string('#', filled)}{new string('.', Width - filled)}] {figures}");
                if (done)
                {
                    Console.Error.WriteLine();
                }
            }
            else if (done)
            {
                Console.Error.WriteLine($"hyvk: loaded {figures}");
            }
        }
    }
}
