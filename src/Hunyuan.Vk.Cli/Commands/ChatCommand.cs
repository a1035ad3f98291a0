using System.CommandLine;
using System.Globalization;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Text;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Cli.Commands;

/// <summary>
/// <c>hyvk chat</c>: an interactive conversation. Each turn renders the whole history with the chat template and
/// generates the reply; earlier replies enter the history as their answers (reasoning dropped). /think and /no_think
/// switch the thinking mode, /reset forgets the history, /exit (or end of input) quits; Ctrl-C stops the current answer.
/// </summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model directory; default: the random demo model" };
        var system = new Option<string?>("--system") { Description = "A system message for the whole conversation" };
        var noThink = new Option<bool>("--no-think") { Description = "Start in fast-thinking mode" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens per reply", DefaultValueFactory = _ => 512 };
        var weights = CliOptions.Weights();
        var context = new Option<int>("--context") { Description = "KV-cache positions for the whole conversation", DefaultValueFactory = _ => 4096 };
        var temperature = new Option<float?>("--temperature") { Description = "0 for greedy; default from generation_config.json" };
        var seed = new Option<int>("--seed") { Description = "Random seed for sampling", DefaultValueFactory = _ => 0 };
        var device = CliOptions.Device();
        var command = new Command("chat", "Chat with the model interactively (/think, /no_think, /reset, /exit; Ctrl-C stops an answer)");
        foreach (Option o in new Option[] { model, system, noThink, maxTokens, weights, context, temperature, seed, device })
        {
            command.Options.Add(o);
        }

        command.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(model), parse.GetValue(system), !parse.GetValue(noThink), parse.GetValue(maxTokens),
            parse.GetValue(weights), parse.GetValue(context), parse.GetValue(temperature), parse.GetValue(seed), parse.GetValue(device))));
        return command;
    }

    private static int Run(string? modelArg, string? system, bool think, int maxTokens, string? weightsArg, int context, float? temperature, int seed, int? device)
    {
        string modelDir = modelArg ?? DemoModel.EnsureExists(message => Console.Error.WriteLine("hyvk: " + message));
        WeightFormat format = CliOptions.WeightFormatFor(weightsArg, modelDir);
        using var instance = new VulkanInstance();
        using GpuContext gpu = instance.CreateContext(device);
        using TextGenerator generator = TextGenerator.Load(gpu, modelDir, format, context, message => Console.Error.WriteLine("hyvk: loading " + message));
        GenerationConfig g = generator.Generation;
        var sampling = Sampling.From(g, temperature, null, null, null, seed);
        List<ChatMessage> history = system is null ? [] : [ChatMessage.System(system)];
        using var cancel = new StopOnCtrlC();
        Console.Error.WriteLine($"hyvk: chatting on {gpu.Info.Name} ({(think ? "slow" : "fast")} thinking); /think, /no_think, /reset, /exit");
        while (true)
        {
            Console.Out.Write("> ");
            string? line = Console.In.ReadLine();
            if (line is null || line.Trim() == "/exit")
            {
                return 0;
            }

            switch (line.Trim())
            {
                case "":
                    continue;
                case "/think":
                case "/no_think":
                    think = line.Trim() == "/think";
                    Console.Error.WriteLine($"hyvk: {(think ? "slow" : "fast")} thinking");
                    continue;
                case "/reset":
                    history = system is null ? [] : [ChatMessage.System(system)];
                    continue;
            }

            history.Add(ChatMessage.User(line));
            List<int> prompt = generator.Tokenizer.Encode(ChatTemplate.Render(history, new ChatTemplateOptions { Thinking = think }), allowSpecial: true);
            var parser = new ChatOutputParser();
            TokenDecoder decoder = generator.Tokenizer.CreateDecoder(skipSpecial: true);
            var stats = new GenerationStats();
            cancel.Reset();
            try
            {
                foreach (int token in generator.Generate(prompt, maxTokens, sampling, g.EosTokenIds, stats))
                {
                    Show(parser.Push(decoder.Push(token)));
                    if (cancel.Requested)
                    {
                        Console.Error.WriteLine("\nhyvk: stopped");
                        break;
                    }
                }
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"hyvk: {e.Message} (/reset starts over)");
                history.RemoveAt(history.Count - 1);
                continue;
            }

            Show(parser.Push(decoder.Flush()));
            Show(parser.Finish());
            Console.Out.WriteLine();
            history.Add(ChatMessage.Assistant(parser.Answer.Length > 0 ? parser.Answer : parser.Raw));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"hyvk: {stats.GeneratedTokens} tokens at {stats.DecodeTokensPerSecond:F1} tokens/s"));
        }
    }

    private static void Show(IReadOnlyList<ReplyDelta> deltas)
    {
        foreach (ReplyDelta d in deltas)
        {
            // Reasoning goes to stderr, the answer to stdout, so a pipe gets the answer alone.
            (d.Part == ReplyPart.Reasoning ? Console.Error : Console.Out).Write(d.Text);
        }
    }

    /// <summary>Ctrl-C stops the answer being generated instead of the program.</summary>
    private sealed class StopOnCtrlC : IDisposable
    {
        private volatile bool _requested;

        public StopOnCtrlC() => Console.CancelKeyPress += OnCancel;

        public bool Requested => _requested;

        public void Reset() => _requested = false;

        private void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            _requested = true;
        }

        public void Dispose() => Console.CancelKeyPress -= OnCancel;
    }
}
