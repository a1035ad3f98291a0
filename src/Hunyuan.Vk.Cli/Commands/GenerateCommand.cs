using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Cli.Commands;

/// <summary><c>hyvk generate</c>: text in, text out, streamed, on any Vulkan device.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model directory (Hugging Face layout); default: a small random demo model, made on first use" };
        var prompt = new Option<string?>("--prompt") { Description = "The user message (rendered with the chat template unless --raw)" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Token ids instead of text, comma-separated (no template)" };
        var system = new Option<string?>("--system") { Description = "A system message" };
        var think = new Option<bool>("--think") { Description = "Slow thinking: the model reasons in <think> first (the default)" };
        var noThink = new Option<bool>("--no-think") { Description = "Fast thinking: skip the reasoning" };
        var raw = new Option<bool>("--raw") { Description = "Send the prompt text as it is, without the chat template" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Most tokens to generate", DefaultValueFactory = _ => 128 }.Within(1);
        var temperature = new Option<float?>("--temperature") { Description = "0 for greedy; default from generation_config.json" }.Within(0, float.PositiveInfinity);
        var topK = new Option<int?>("--top-k") { Description = $"Candidates to sample from (1-{GenerateOptions.MaxTopK}); default from generation_config.json" }.Within(1, GenerateOptions.MaxTopK);
        var topP = new Option<float?>("--top-p") { Description = "Nucleus mass, above 0 and at most 1; default from generation_config.json" }.Within(0, 1, aboveMin: true);
        var penalty = new Option<float?>("--repetition-penalty") { Description = "Penalty on tokens already seen (1: none); default from generation_config.json" }.Within(0, float.PositiveInfinity, aboveMin: true);
        var seed = new Option<int>("--seed") { Description = "Random seed for sampling", DefaultValueFactory = _ => 0 };
        var weights = CliOptions.Weights();
        var context = new Option<int>("--context") { Description = "KV-cache positions (prompt + generated)", DefaultValueFactory = _ => 2048 }.Within(2);
        var thinkBudget = new Option<int?>("--think-budget") { Description = "Close the reasoning after N thinking tokens and let the model answer" }.Within(0);
        var dumpLogits = new Option<string?>("--dump-logits") { Description = "Write the logits of every prompt position and generated step to FILE (.npy, float32 [positions, vocab])" };
        var tools = new Option<string?>("--tools") { Description = "A JSON file with an OpenAI tools array: the model may answer with calls, shown apart from the answer" };
        // For tests of what shows a reply: these ids replace the sampled ones (GenerateOptions.ScriptedReply).
        var scripted = new Option<string?>("--scripted-reply-ids") { Hidden = true };
        var json = CliOptions.Json();
        var device = CliOptions.Executor();
        var threads = CliOptions.Threads();
        var deviceMemory = CliOptions.DeviceMemory();
        var hostExperts = CliOptions.HostExperts();
        var kv = CliOptions.KvCache();
        var command = new Command("generate", "Generate text with Hunyuan-A13B (or a checkpoint of its layout) on a Vulkan device or the host's cores");
        foreach (Option o in new Option[] { model, prompt, promptIds, system, think, noThink, raw, maxTokens, temperature, topK, topP, penalty, seed, weights, context, thinkBudget, dumpLogits, tools, scripted, json, device, threads, deviceMemory, hostExperts, kv })
        {
            command.Options.Add(o);
        }

        command.Validators.Add(result =>
        {
            if ((result.GetValue(prompt) is null) == (result.GetValue(promptIds) is null))
            {
                result.AddError("Give exactly one of --prompt or --prompt-ids.");
            }

            if (result.GetValue(think) && result.GetValue(noThink))
            {
                result.AddError("--think and --no-think exclude each other.");
            }

            if (result.GetValue(tools) is not null && (result.GetValue(raw) || result.GetValue(promptIds) is not null))
            {
                result.AddError("--tools needs the chat template: not with --raw or --prompt-ids.");
            }

            foreach ((Option<string?> ids, string? text) in new[] { (promptIds, result.GetValue(promptIds)), (scripted, result.GetValue(scripted)) })
            {
                if (text is not null && IdsError(ids.Name, text) is string error)
                {
                    result.AddError(error);
                }
            }
        });
        command.SetAction(parse => CliErrors.Run(() => Run(new Request(
            parse.GetValue(model), parse.GetValue(prompt), parse.GetValue(promptIds), parse.GetValue(system), !parse.GetValue(noThink),
            parse.GetValue(raw), parse.GetValue(maxTokens), parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP),
            parse.GetValue(seed), parse.GetValue(weights), parse.GetValue(context), parse.GetValue(json), parse.GetValue(device)!, parse.GetValue(threads),
            parse.GetValue(thinkBudget), parse.GetValue(dumpLogits), parse.GetValue(penalty), parse.GetValue(tools), parse.GetValue(scripted),
            CliOptions.Placement(parse.GetValue(deviceMemory), parse.GetValue(hostExperts)!, parse.GetValue(kv)!)))));
        return command;
    }

    private sealed record Request(
        string? Model, string? Prompt, string? PromptIds, string? System, bool Think, bool Raw, int MaxTokens, float? Temperature,
        int? TopK, float? TopP, int Seed, string? Weights, int Context, bool Json, string Device, int Threads, int? ThinkBudget, string? DumpLogits, float? RepetitionPenalty,
        string? Tools, string? ScriptedReply, LoadOptions Placement);

    private static int Run(Request q)
    {
        List<JsonNode>? tools = q.Tools is string file ? ReadTools(file) : null;   // checked before anything loads
        if (q.DumpLogits is string target)
        {
            OutputFile.Check(target, "--dump-logits");
        }

        using HunyuanEngine engine = EngineLoader.Load(q.Model, q.Weights, q.Context, q.Device, q.Placement, q.Threads);
        List<int> promptIds = q.PromptIds is string ids ? ParseIds(ids) : Render(engine, q, tools);
        var stats = new GenerationStats();
        bool chat = !q.Raw && q.PromptIds is null;
        var reply = new ReplyDecoder(engine.Tokenizer, chat);
        ReplyPart? shown = null;
        int callsShown = 0;
        void Show(IReadOnlyList<ReplyDelta> deltas)
        {
            foreach (ReplyDelta delta in q.Json ? [] : deltas)
            {
                if (chat && shown != delta.Part)
                {
                    Console.Out.Write(shown is null ? string.Empty : "\n");
                    Console.Out.WriteLine(delta.Part == ReplyPart.Reasoning ? "[reasoning]" : "[answer]");
                }

                shown = delta.Part;
                Console.Out.Write(delta.Text);
            }

            for (; !q.Json && callsShown < reply.ToolCalls.Count; callsShown++)
            {
                // A call is shown whole once its block has closed, on a line of its own, never as answer text.
                ToolCall call = reply.ToolCalls[callsShown];
                Console.Out.Write(shown is null ? string.Empty : "\n");
                Console.Out.Write($"[tool call] {call.Name} {call.Arguments?.ToJsonString() ?? "{}"}");
                shown = ReplyPart.ToolCall;
            }
        }

        var logitRows = new List<float[]>();
        var options = new GenerateOptions
        {
            MaxTokens = q.MaxTokens,
            Temperature = q.Temperature,
            TopK = q.TopK,
            TopP = q.TopP,
            RepetitionPenalty = q.RepetitionPenalty,
            Seed = q.Seed,
            ThinkBudget = q.ThinkBudget,
            Stats = stats,
            OnLogits = q.DumpLogits is null ? null : logitRows.Add,
            ScriptedReply = q.ScriptedReply is string script ? ParseIds(script) : null,
        };
        foreach (int token in engine.GenerateTokens(promptIds, options))
        {
            Show(reply.Push(token));
        }

        Show(reply.Finish());
        if (!q.Json)
        {
            Console.Out.WriteLine();
        }
        else
        {
            var result = new JsonObject
            {
                ["prompt_ids"] = new JsonArray([.. promptIds.Select(i => (JsonNode)i)]),
                ["generated_ids"] = new JsonArray([.. reply.Ids.Select(i => (JsonNode)i)]),
                ["text"] = reply.Text,
                ["reasoning"] = reply.Reasoning,
                ["answer"] = reply.Answer,
                ["tool_calls"] = new JsonArray([.. reply.ToolCalls.Select(c => (JsonNode)new JsonObject { ["name"] = c.Name, ["arguments"] = c.Arguments?.DeepClone() })]),
                ["finish_reason"] = FinishName(stats.FinishReason),
                ["timings"] = new JsonObject
                {
                    ["prompt_tokens"] = stats.PromptTokens,
                    ["generated_tokens"] = stats.GeneratedTokens,
                    ["prompt_tokens_per_second"] = stats.PromptTokensPerSecond,
                    ["decode_tokens_per_second"] = stats.DecodeTokensPerSecond,
                    ["time_to_first_token_ms"] = stats.TimeToFirstToken.TotalMilliseconds,
                },
            };
            Console.Out.WriteLine(result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }

        if (q.DumpLogits is string dump)
        {
            NpyWriter.Write(dump, logitRows, engine.Config.VocabSize);
            Console.Error.WriteLine($"hyvk: wrote the logits of {logitRows.Count} positions to {dump}");
        }

        if (stats.FinishReason == FinishReason.ContextFull)
        {
            Console.Error.WriteLine($"hyvk: stopped: the context is full ({q.Context} positions); raise --context for a longer reply");
        }

        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"hyvk: prompt {stats.PromptTokens} tokens at {stats.PromptTokensPerSecond:F1} tokens/s, decode {stats.GeneratedTokens} tokens at {stats.DecodeTokensPerSecond:F1} tokens/s, time to first token {stats.TimeToFirstToken.TotalMilliseconds:F0} ms"));
        return 0;
    }

    /// <summary>The JSON name of why the generation ended: stop, length, tool_calls or context_full.</summary>
    private static string? FinishName(FinishReason? reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length => "length",
        FinishReason.ToolCalls => "tool_calls",
        FinishReason.ContextFull => "context_full",
        _ => null,
    };

    private static List<int> Render(HunyuanEngine engine, Request q, List<JsonNode>? tools)
    {
        if (q.Raw)
        {
            return engine.Tokenizer.Encode(q.Prompt!);
        }

        List<ChatMessage> messages = q.System is string s ? [ChatMessage.System(s), ChatMessage.User(q.Prompt!)] : [ChatMessage.User(q.Prompt!)];
        return engine.EncodeChat(messages, q.Think, tools);
    }

    private static List<JsonNode> ReadTools(string file)
    {
        try
        {
            return Server.ChatRequest.ParseTools(JsonNode.Parse(File.ReadAllText(file))) ?? throw new ArgumentException($"--tools {file}: the array is empty");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"--tools {file}: not JSON ({e.Message})", e);
        }
        catch (Server.ApiError e)
        {
            throw new ArgumentException($"--tools {file}: {e.Message}", e);
        }
    }

    /// <summary>Why <paramref name="text"/> is not a list of token ids, naming the first that is not, or null.</summary>
    private static string? IdsError(string option, string text)
    {
        string[] parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            return $"{option}: no token ids in '{text}'.";
        }

        string? bad = parts.FirstOrDefault(p => !int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out _));
        return bad is null ? null : $"{option}: '{bad}' is not a token id (a whole number from 0 to {int.MaxValue}; the model's vocabulary is checked when it loads).";
    }

    private static List<int> ParseIds(string text)
    {
        try
        {
            return [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture))];
        }
        catch (FormatException e)
        {
            throw new ArgumentException($"--prompt-ids: '{text}' is not a comma-separated list of token ids", e);
        }
    }
}
