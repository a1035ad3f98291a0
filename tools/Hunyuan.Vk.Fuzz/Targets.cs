using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Server;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Safetensors;
using Hunyuan.Vk.Model.Synthetic;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Fuzz;

/// <summary>
/// One kind of input: a valid seed, and the code that takes it as the engine does. <see cref="Run"/> returns null when
/// the input is accepted and what was made of it holds up (an independent check of the result), a description when
/// it was accepted but is not valid; a refusal is an exception <see cref="FuzzRun.IsClearError"/> accepts.
/// </summary>
public sealed record FuzzTarget(string Name, byte[] Seed, Func<byte[], string?> Run);

/// <summary>The inputs of #16 point 6, each loaded in-process (no Vulkan), in a scratch folder of their own.</summary>
public static class Targets
{
    private static readonly DateTime s_now = new(2026, 12, 1, 12, 0, 0, DateTimeKind.Utc);

    public static IReadOnlyList<FuzzTarget> Create(string scratch)
    {
        Directory.CreateDirectory(scratch);
        string rankFile = Path.Combine(scratch, "cl100k", HunyuanTokenizer.RankFileName);
        if (!File.Exists(rankFile))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(rankFile)!);
            TokenizerFiles.Write(Path.GetDirectoryName(rankFile)!, rankFile: null, SpecialTokens.Release);
        }

        HunyuanTokenizer tokenizer = HunyuanTokenizer.FromModelDirectory(Path.GetDirectoryName(rankFile)!);
        return
        [
            Safetensors(Path.Combine(scratch, "safetensors")),
            Index(Path.Combine(scratch, "index")),
            Config(),
            GenerationConfigFile(Path.Combine(scratch, "generation")),
            RankFile(Path.Combine(scratch, "tiktoken"), rankFile),
            TokenizerText(tokenizer),
            ChatMessages(tokenizer),
            ChatBody(tokenizer),
            CompletionBody(tokenizer),
        ];
    }

    private static FuzzTarget Safetensors(string dir)
    {
        Directory.CreateDirectory(dir);
        string seedPath = Path.Combine(dir, "seed.safetensors");
        SafetensorsWriter.Write(seedPath,
        [
            Entry("model.layers.0.self_attn.q_proj.weight", DType.BF16, [4, 3]),
            Entry("model.norm.weight", DType.F32, [3]),
            Entry("model.layers.0.mlp.experts.0.up_proj.qweight", DType.I32, [2, 2]),
            Entry("model.layers.0.mlp.experts.0.up_proj.scales", DType.F16, [1, 4]),
            Entry("empty", DType.U8, [0]),
        ]);
        byte[] seed = File.ReadAllBytes(seedPath);
        string path = Path.Combine(dir, "case.safetensors");
        return new FuzzTarget("safetensors", seed, data =>
        {
            File.WriteAllBytes(path, data);
            using SafetensorsFile file = SafetensorsFile.Open(path);
            foreach (TensorInfo t in file.Tensors.Values)
            {
                if (t.ReadAllBytes().Length != t.Length)
                {
                    return $"tensor '{t.Name}' read {t.Length} bytes short";
                }
            }

            return SafetensorsCheck.Problem(data, file.Tensors.Count);
        });

        static SafetensorsWriter.Entry Entry(string name, DType type, long[] shape) =>
            new(name, type, shape, s => s.Write(Enumerable.Range(0, (int)(shape.Aggregate(1L, (a, d) => a * d) * type.Size())).Select(i => (byte)(i * 37 + 1)).ToArray()));
    }

    private static FuzzTarget Index(string dir)
    {
        Directory.CreateDirectory(dir);
        string[] shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
        string[][] names = [["model.embed_tokens.weight", "model.norm.weight"], ["lm_head.weight"]];
        var map = new JsonObject();
        for (int s = 0; s < shards.Length; s++)
        {
            SafetensorsWriter.Write(Path.Combine(dir, shards[s]), [.. names[s].Select(n => new SafetensorsWriter.Entry(n, DType.F32, [2], w => w.Write(new byte[8])))]);
            foreach (string n in names[s])
            {
                map[n] = shards[s];
            }
        }

        byte[] seed = Encoding.UTF8.GetBytes(new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = 24 }, ["weight_map"] = map }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        string index = Path.Combine(dir, Checkpoint.IndexFile);
        return new FuzzTarget("index", seed, data =>
        {
            File.WriteAllBytes(index, data);
            using Checkpoint checkpoint = Checkpoint.Open(dir);
            // Accepted: each entry of the index (read here on its own, duplicates seen) is a tensor of the file it names.
            using JsonDocument doc = JsonDocument.Parse(data);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty p in doc.RootElement.GetProperty("weight_map").EnumerateObject())
            {
                if (!seen.Add(p.Name))
                {
                    return $"weight_map lists '{p.Name}' twice";
                }

                if (!checkpoint.Contains(p.Name) || Path.GetFileName(checkpoint.Tensors[p.Name].File.Path) != p.Value.GetString())
                {
                    return $"'{p.Name}' -> {p.Value.GetRawText()} does not hold";
                }
            }

            return seen.Count == 0 ? "an empty weight_map" : null;
        });
    }

    private static FuzzTarget Config()
    {
        byte[] seed = Encoding.UTF8.GetBytes(new CheckpointGenerator(new GeneratorOptions()).ConfigJson());
        return new FuzzTarget("config", seed, data =>
        {
            HunyuanConfig c = HunyuanConfig.Parse(Encoding.UTF8.GetString(data));
            // Accepted: the shape is one the engine can run, and the derived sizes do not overflow.
            string? bad = Check(c.HiddenSize > 0 && c.Layers > 0 && c.Heads > 0 && c.KvHeads > 0 && c.HeadDim > 0 && c.VocabSize > 0, "a size not above 0")
                ?? Check(c.Heads % c.KvHeads == 0, "heads not a multiple of kv heads")
                ?? Check(c.HeadDim % 2 == 0, "an odd head_dim (NeoX RoPE rotates pairs)")
                ?? Check(c.Experts > 0 && c.TopK > 0 && c.TopK <= c.Experts, "top-k not within the experts")
                ?? Check(c.ExpertIntermediate > 0 && c.SharedExperts >= 0 && (c.SharedExperts == 0 || c.SharedIntermediate > 0), "an expert size not above 0")
                ?? Check(float.IsFinite(c.RmsNormEps) && c.RmsNormEps > 0, "rms_norm_eps not a positive number")
                ?? Check(double.IsFinite(c.RopeBase) && c.RopeBase > 1, "a RoPE base that is not finite and above 1")
                ?? Check(double.IsFinite(c.RoutedScalingFactor), "routed_scaling_factor not finite")
                ?? Check((long)c.Heads * c.HeadDim == c.QueryDim && (long)c.KvHeads * c.HeadDim == c.KvDim, "q/kv dims overflow");
            if (bad is null)
            {
                _ = ModelLayout.Tensors(c).Take(100_000).Count();   // the names a loader looks for (up to a bound: experts may be many)
            }

            return bad;
        });
    }

    private static FuzzTarget GenerationConfigFile(string dir)
    {
        Directory.CreateDirectory(dir);
        byte[] seed = Encoding.UTF8.GetBytes(new CheckpointGenerator(new GeneratorOptions()).GenerationConfigJson());
        string path = Path.Combine(dir, "generation_config.json");
        return new FuzzTarget("generation_config", seed, data =>
        {
            File.WriteAllBytes(path, data);
            GenerationConfig g = GenerationConfig.Load(dir);
            return Check(float.IsFinite(g.Temperature) && g.Temperature >= 0, $"temperature {g.Temperature}")
                ?? Check(g.TopK >= 0, $"top_k {g.TopK}")
                ?? Check(g.TopP > 0 && g.TopP <= 1, $"top_p {g.TopP}")
                ?? Check(float.IsFinite(g.RepetitionPenalty) && g.RepetitionPenalty > 0, $"repetition_penalty {g.RepetitionPenalty}")
                ?? Check(g.EosTokenIds.All(i => i >= 0) && g.PadTokenId >= 0, "a negative token id");
        });
    }

    private static FuzzTarget RankFile(string dir, string fullRankFile)
    {
        // The first 1,000 ranks: the 256 bytes and the first merges, so a case loads in a millisecond.
        Directory.CreateDirectory(dir);
        byte[] seed = Encoding.UTF8.GetBytes(string.Join('\n', File.ReadLines(fullRankFile).Take(1000)) + "\n");
        string path = Path.Combine(dir, HunyuanTokenizer.RankFileName);
        const string Sample = "Hello, world! 12345 \t\n ünïcödé 你好 🙂 <|eos|>";
        return new FuzzTarget("tiktoken", seed, data =>
        {
            File.WriteAllBytes(path, data);
            HunyuanTokenizer t = HunyuanTokenizer.FromRankFile(path);
            // Accepted: text of every kind still encodes and decodes back.
            List<int> ids = t.Encode(Sample);
            return Check(t.Decode(ids) == Sample, "the sample text does not decode back")
                ?? Check(ids.All(i => i >= 0 && i < t.VocabSize), "an id outside the vocabulary");
        });
    }

    private static FuzzTarget TokenizerText(HunyuanTokenizer tokenizer)
    {
        byte[] seed = Encoding.UTF8.GetBytes("The quick brown fox 123,456.78 jumps\r\n\tover 你好，世界！ 🙂🙃 naïve café <|startoftext|>x<|extra_0|> <think>a</think> ''s 've   \u00a0 \u200b");
        return new FuzzTarget("tokenizer-text", seed, data =>
        {
            // Any text is valid: it must encode and decode back (NFC), with and without special tokens.
            string text = Encoding.UTF8.GetString(data), nfc = text.Normalize(NormalizationForm.FormC);
            return Check(tokenizer.Decode(tokenizer.Encode(text)) == nfc, "the text does not decode back")
                ?? Check(tokenizer.Decode(tokenizer.Encode(text, allowSpecial: true)) == nfc, "the text with special tokens does not decode back");
        });
    }

    private const string Tools = """
        [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
          "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
        """;

    private const string Messages = """
        [{"role": "system", "content": "You are helpful."},
         {"role": "user", "content": "Weather in Paris?"},
         {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
         {"role": "tool", "tool_call_id": "call_1", "content": "18 C, sunny"},
         {"role": "assistant", "content": "It is 18 C and sunny."},
         {"role": "user", "content": [{"type": "text", "text": "/no_think And London?"}]}]
        """;

    // The chat template's messages alone: the array goes into a request with the tools.
    private static FuzzTarget ChatMessages(HunyuanTokenizer tokenizer) => new("chat-messages", Encoding.UTF8.GetBytes(Messages), data =>
        ChatRequestProblem(tokenizer, [.. "{\"messages\": "u8, .. data, .. Encoding.UTF8.GetBytes($", \"tools\": {Tools}}}")]));

    private static FuzzTarget ChatBody(HunyuanTokenizer tokenizer) => new("chat-request",
        Encoding.UTF8.GetBytes("""{"model": "hunyuan-a13b", "messages": """ + Messages + """, "tools": """ + Tools
            + """, "tool_choice": "auto", "max_tokens": 64, "temperature": 0.7, "top_p": 0.8, "top_k": 20, "stream": true, "stream_options": {"include_usage": true}, "stop": ["\n\n"], "chat_template_kwargs": {"enable_thinking": false}}"""),
        data => ChatRequestProblem(tokenizer, data));

    private static FuzzTarget CompletionBody(HunyuanTokenizer tokenizer) => new("completion-request",
        Encoding.UTF8.GetBytes("""{"model": "hunyuan-a13b", "prompt": "<|startoftext|>Once upon a time", "max_tokens": 16, "temperature": 0, "seed": 7, "repetition_penalty": 1.05, "stop": "."}"""),
        data =>
        {
            CompletionRequest request = CompletionRequest.Parse(RequestFields.ParseBody(data));
            return OptionsProblem(request.Options)
                ?? Check(request.Ids is not null || request.Text is not null, "no prompt")
                ?? (request.Text is string text ? Check(tokenizer.Decode(tokenizer.Encode(text, allowSpecial: true)) == text.Normalize(NormalizationForm.FormC), "the prompt does not decode back") : null);
        });

    // As the server takes a chat request: the body parsed, then the template rendered and encoded (an
    // ArgumentException there is its 400 "messages").
    private static string? ChatRequestProblem(HunyuanTokenizer tokenizer, byte[] data)
    {
        ChatRequest request = ChatRequest.Parse(RequestFields.ParseBody(data));
        string text;
        try
        {
            text = ChatTemplate.Render(request.Messages, new ChatTemplateOptions { Thinking = request.Options.Thinking, Tools = request.Options.Tools, Now = s_now });
        }
        catch (ArgumentException e)
        {
            throw ApiError.Invalid(e.Message, "messages");
        }

        return OptionsProblem(request.Options)
            ?? Check(request.Messages.Count > 0, "no messages")
            ?? Check(tokenizer.Decode(tokenizer.Encode(text, allowSpecial: true)) == text.Normalize(NormalizationForm.FormC), "the rendered prompt does not decode back");
    }

    // What an accepted request asks of the engine is within what it runs.
    private static string? OptionsProblem(Generation.GenerateOptions o) =>
        Check(o.MaxTokens >= 1, $"max_tokens {o.MaxTokens}")
        ?? Check(o.Temperature is null or >= 0 && (o.Temperature is null || float.IsFinite(o.Temperature.Value)), $"temperature {o.Temperature}")
        ?? Check(o.TopK is null or >= 0 and <= Generation.GenerateOptions.MaxTopK, $"top_k {o.TopK}")
        ?? Check(o.TopP is null or > 0 and <= 1, $"top_p {o.TopP}")
        ?? Check(o.RepetitionPenalty is null || (o.RepetitionPenalty > 0 && float.IsFinite(o.RepetitionPenalty.Value)), $"repetition_penalty {o.RepetitionPenalty}")
        ?? Check(o.StopSequences is null || o.StopSequences.All(s => s.Length > 0), "an empty stop sequence");

    private static string? Check(bool ok, string problem) => ok ? null : problem;
}
