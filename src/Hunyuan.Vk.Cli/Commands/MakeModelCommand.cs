using System.CommandLine;
using System.Runtime.InteropServices;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Synthetic;

namespace Hunyuan.Vk.Cli.Commands;

/// <summary><c>hyvk make-model</c>: a random checkpoint in the real Hugging Face layout.</summary>
internal static class MakeModelCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out") { Description = "Directory to create (must not exist or be empty)", Required = true };
        var preset = new Option<string>("--preset") { Description = "Shape: tiny, small, or a13b (the real dimensions)", DefaultValueFactory = _ => "tiny" };
        preset.AcceptOnlyFromAmong("tiny", "small", "a13b");
        var layers = new Option<int?>("--layers") { Description = "Number of layers (default: the preset's; use few with a13b to fit memory)" };
        var vocab = new Option<int?>("--vocab") { Description = "Vocabulary size (default: the real 128167; a small one for small test fixtures, run on token ids)" };
        var untied = new Option<bool>("--untied-lm-head") { Description = "Write a separate lm_head.weight instead of tying it to the embedding" };
        var seed = new Option<ulong>("--seed") { Description = "Random seed: the same seed writes the same weights", DefaultValueFactory = _ => 1UL };
        var dtype = new Option<string>("--dtype") { Description = "Stored float type: bf16, f16 or f32", DefaultValueFactory = _ => "bf16" };
        dtype.AcceptOnlyFromAmong("bf16", "f16", "f32");
        var format = new Option<string>("--format") { Description = "Linear weights: dense, gptq-int4 (AutoGPTQ v1, group 128) or fp8 (E4M3, per-tensor scale)", DefaultValueFactory = _ => "dense" };
        format.AcceptOnlyFromAmong("dense", "gptq-int4", "fp8");
        var shards = new Option<int>("--shards") { Description = "Number of safetensors files (more than one writes model.safetensors.index.json)", DefaultValueFactory = _ => 1 };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "A hy.tiktoken rank file to ship (default: cl100k_base with Hunyuan's special tokens)" };
        // For the interrupt tests: after the first tensor, say "held" and wait (a minute at most) for a signal, so the
        // signal arrives mid-write however fast the machine writes.
        var hold = new Option<bool>("--hold-after-first-tensor") { Hidden = true };

        var command = new Command("make-model", "Write a random Hunyuan-A13B-style checkpoint (config, tokenizer, safetensors) for tests and demos");
        foreach (Option o in new Option[] { output, preset, layers, vocab, untied, seed, dtype, format, shards, tokenizer, hold })
        {
            command.Options.Add(o);
        }

        command.SetAction(parse => CliErrors.Run(() =>
        {
            var options = new GeneratorOptions
            {
                Preset = GeneratorOptions.ParsePreset(parse.GetValue(preset)),
                Layers = parse.GetValue(layers),
                Vocab = parse.GetValue(vocab),
                TieEmbeddings = !parse.GetValue(untied),
                Seed = parse.GetValue(seed),
                FloatType = GeneratorOptions.ParseFloatType(parse.GetValue(dtype)),
                Format = GeneratorOptions.ParseFormat(parse.GetValue(format)),
                Shards = parse.GetValue(shards),
                TokenizerPath = parse.GetValue(tokenizer),
            };
            string directory = parse.GetValue(output)!;
            var generator = new CheckpointGenerator(options);
            HunyuanConfig c = generator.Config;
            Console.Error.WriteLine(FormattableString.Invariant(
                $"make-model: {options.Preset} ({c.Layers} layers, hidden {c.HiddenSize}, {c.Experts} experts top-{c.TopK}), {options.Format}, seed {options.Seed} -> {directory}"));
            // Ctrl-C or SIGTERM: stop after the tensor being written, remove the partial directory, exit 130. A SIGINT
            // that the parent process ignores (as a non-interactive shell does for its background jobs) stays ignored:
            // .NET installs no handler for it, as is the convention; SIGTERM still stops the write.
            using var cancel = new CancellationTokenSource();
            void Stop(PosixSignalContext signal)
            {
                signal.Cancel = true;
                cancel.Cancel();
            }

            using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
            using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
            try
            {
                bool held = !parse.GetValue(hold);
                generator.Write(directory, message => Console.Error.WriteLine("make-model: " + message), () =>
                {
                    if (!held)
                    {
                        held = true;
                        Console.Error.WriteLine("make-model: held after the first tensor");
                        cancel.Token.WaitHandle.WaitOne(TimeSpan.FromMinutes(1));
                    }
                }, cancel.Token);
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("make-model: stopped; the partial directory was removed and nothing was written to " + directory);
                return 130;
            }

            Console.Error.WriteLine("make-model: done");
            return 0;
        }));
        return command;
    }
}
