using System.CommandLine;
using System.Globalization;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Cli.Commands;

/// <summary>
/// <c>hyvk chat</c>: an interactive conversation. Each turn renders the whole history with the chat template and
/// generates the reply; the start of the prompt that the KV cache still holds from the last turn is not run again.
/// Earlier replies enter the history as their answers (reasoning dropped). /think and /no_think switch the thinking
/// mode, /reset forgets the history, /exit (or end of input) quits; Ctrl-C stops the current answer.
/// </summary>
internal static class ChatCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model directory; default: the random demo model" };
        var system = new Option<string?>("--system") { Description = "A system message for the whole conversation" };
        var noThink = new Option<bool>("--no-think") { Description = "Start in fast-thinking mode" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens per reply", DefaultValueFactory = _ => 512 }.Within(1);
        var weights = CliOptions.Weights();
        var context = new Option<int>("--context") { Description = "KV-cache positions for the whole conversation", DefaultValueFactory = _ => 4096 }.Within(2);
        var temperature = new Option<float?>("--temperature") { Description = "0 for greedy; default from generation_config.json" }.Within(0, float.PositiveInfinity);
        var seed = new Option<int>("--seed") { Description = "Random seed for sampling", DefaultValueFactory = _ => 0 };
        var device = CliOptions.Executor();
        var threads = CliOptions.Threads();
        var deviceMemory = CliOptions.DeviceMemory();
        var hostExperts = CliOptions.HostExperts();
        var kv = CliOptions.KvCache();
        var command = new Command("chat", "Chat with the model interactively (/think, /no_think, /reset, /exit; Ctrl-C stops an answer)");
        foreach (Option o in new Option[] { model, system, noThink, maxTokens, weights, context, temperature, seed, device, threads, deviceMemory, hostExperts, kv })
        {
            command.Options.Add(o);
        }

        command.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(model), parse.GetValue(system), !parse.GetValue(noThink), parse.GetValue(maxTokens),
            parse.GetValue(weights), parse.GetValue(context), parse.GetValue(temperature), parse.GetValue(seed), parse.GetValue(device)!, parse.GetValue(threads),
            CliOptions.Placement(parse.GetValue(deviceMemory), parse.GetValue(hostExperts)!, parse.GetValue(kv)!))));
        return command;
    }

    private static int Run(string? modelArg, string? system, bool think, int maxTokens, string? weightsArg, int context, float? temperature, int seed, string device,
        int threads, LoadOptions placement)
    {
        using HunyuanEngine engine = EngineLoader.Load(modelArg, weightsArg, context, device, placement, threads);
        List<ChatMessage> history = system is null ? [] : [ChatMessage.System(system)];
        using var cancel = new StopOnCtrlC();
        Console.Error.WriteLine($"hyvk: chatting on {engine.Executor} ({(think ? "slow" : "fast")} thinking); /think, /no_think, /reset, /exit");
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
            List<int> prompt = engine.EncodeChat(history, think);
            var reply = new ReplyDecoder(engine.Tokenizer, chat: true);
            var stats = new GenerationStats();
            var options = new GenerateOptions { MaxTokens = maxTokens, Temperature = temperature, Seed = seed, Stats = stats };
            CancellationToken stop = cancel.Start();
            try
            {
                foreach (int token in engine.GenerateTokens(prompt, options, stop))
                {
                    Show(reply.Push(token));
                }
            }
            catch (OperationCanceledException)
            {
                Console.Error.WriteLine("\nhyvk: stopped");
            }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine($"hyvk: {e.Message} (/reset starts over)");
                history.RemoveAt(history.Count - 1);
                continue;
            }

            Show(reply.Finish());
            Console.Out.WriteLine();
            history.Add(ChatMessage.Assistant(reply.Answer.Length > 0 ? reply.Answer : reply.Text));
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"hyvk: {stats.GeneratedTokens} tokens at {stats.DecodeTokensPerSecond:F1} tokens/s; prompt {stats.PromptTokens} new tokens, {stats.CachedPromptTokens} from the cache"));
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

    /// <summary>Ctrl-C cancels the answer being generated instead of ending the program.</summary>
    private sealed class StopOnCtrlC : IDisposable
    {
        private CancellationTokenSource _turn = new();

        public StopOnCtrlC() => Console.CancelKeyPress += OnCancel;

        /// <summary>A token for the next answer.</summary>
        public CancellationToken Start()
        {
            if (_turn.IsCancellationRequested)
            {
                _turn.Dispose();
                _turn = new CancellationTokenSource();
            }

            return _turn.Token;
        }

        private void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            e.Cancel = true;
            _turn.Cancel();
        }

        public void Dispose()
        {
            Console.CancelKeyPress -= OnCancel;
            _turn.Dispose();
        }
    }
}
