using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Tests.Cli;

public sealed class GenerateCommandTests : VulkanTest
{
    private static readonly string[] s_prompt = ["127958", "9906", "1917", "127962"];

    [Test]
    public void Auto_runs_the_host_executor_where_the_best_device_is_a_cpu_and_says_so()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        string[] args = ["generate", "--model", model, "--prompt-ids", string.Join(',', s_prompt), "--weights", "q8", "--temperature", "0", "--max-tokens", "4",
            "--json", "--context", "64"];
        (int exit, string output, string error) = Hyvk.Run(args);
        Assert.That(exit, Is.Zero, error);
        if (Context.Info.Type != "cpu")
        {
            Assert.Ignore($"the best device here is a {Context.Info.Type} one");
        }

        Assert.That(error, Does.Contain("running on the host executor").And.Contain("is a CPU device"));
        (int exitCpu, string outputCpu, string errorCpu) = Hyvk.Run([.. args, "--device", "cpu", "--threads", "2"]);
        Assert.That(exitCpu, Is.Zero, errorCpu);
        Assert.That(errorCpu, Does.Contain("running on the host executor (2 threads"));
        Assert.That(Ids(outputCpu), Is.EqualTo(Ids(output)), "auto and cpu are the same executor");
        (int exitBad, _, string errorBad) = Hyvk.Run([.. args, "--device", "gpu0"]);
        Assert.That(exitBad, Is.Not.Zero);
        Assert.That(errorBad, Does.Contain("--device must be auto, cpu, vulkan or a device index"));

        static int[] Ids(string json) => [.. JsonDocument.Parse(json).RootElement.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32())];
    }

    [Test]
    public void Json_output_has_the_greedy_tokens_of_the_reference()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        (int exit, string output, string error) = Hyvk.Run("generate", "--model", model, "--prompt-ids", string.Join(',', s_prompt),
            "--weights", "f32", "--temperature", "0", "--repetition-penalty", "1", "--max-tokens", "6", "--json", "--context", "64");
        Assert.That(exit, Is.Zero, error);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement root = doc.RootElement;
        int[] generated = [.. root.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32())];
        Assert.That(root.GetProperty("prompt_ids").GetArrayLength(), Is.EqualTo(s_prompt.Length));
        Assert.That(generated, Has.Length.InRange(1, 6));
        foreach (string field in new[] { "text", "reasoning", "answer", "tool_calls", "timings" })
        {
            Assert.That(root.TryGetProperty(field, out _), Is.True, field);
        }

        using ModelWeights weights = ModelWeights.Open(model);
        ReferenceModel<double> reference = TestModels.Reference<double>(weights);
        double[] logits = reference.Prefill([.. s_prompt.Select(int.Parse)])[^1];
        var expected = new List<int>();
        for (int i = 0; i < generated.Length; i++)
        {
            expected.Add(Array.IndexOf(logits, logits.Max()));
            logits = reference.Decode(expected[^1]);
        }

        Assert.That(generated, Is.EqualTo(expected));
        Assert.That(error, Does.Contain("tokens/s").And.Contain("time to first token"));
    }

    [Test]
    public void Think_budget_closes_the_thought_and_lets_the_model_answer()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        (int exit, string output, string error) = Hyvk.Run("generate", "--model", model, "--prompt", "Hi", "--think-budget", "2",
            "--temperature", "0", "--max-tokens", "12", "--json", "--weights", "q8", "--context", "64");
        Assert.That(exit, Is.Zero, error);
        int[] generated = [.. JsonDocument.Parse(output).RootElement.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32())];
        List<int> close = Vk.Text.HunyuanTokenizer.FromModelDirectory(model).Encode(Vk.Generation.TextGenerator.CloseThought);
        Assert.That(generated.Skip(2).Take(close.Count), Is.EqualTo(close), "after 2 thinking tokens: \n</think>\n<answer>\n");
        Assert.That(generated, Has.Length.EqualTo(12).Or.Length.GreaterThan(2 + close.Count), "then the model goes on");
    }

    [Test]
    public void Dump_logits_writes_every_position_as_npy()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        string file = Path.Combine(Path.GetTempPath(), $"hyvk-logits-{Environment.ProcessId}.npy");
        try
        {
            (int exit, _, string error) = Hyvk.Run("generate", "--model", model, "--prompt-ids", string.Join(',', s_prompt), "--weights", "f32",
                "--temperature", "0", "--max-tokens", "3", "--dump-logits", file, "--context", "64");
            Assert.That(exit, Is.Zero, error);
            byte[] bytes = File.ReadAllBytes(file);
            Assert.That(bytes[..6], Is.EqualTo(new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' }));
            int headerLength = BitConverter.ToUInt16(bytes, 8);
            string header = System.Text.Encoding.ASCII.GetString(bytes, 10, headerLength);
            int vocab = 128167, rows = s_prompt.Length + 3 - 1;
            Assert.That(header, Does.Contain("'descr': '<f4'").And.Contain($"'shape': ({rows}, {vocab})"));
            Assert.That((10 + headerLength) % 64, Is.Zero);
            Assert.That(bytes, Has.Length.EqualTo(10 + headerLength + rows * vocab * 4));

            using ModelWeights weights = ModelWeights.Open(model);
            double[][] expected = TestModels.Reference<double>(weights).Prefill([.. s_prompt.Select(int.Parse)]);
            for (int p = 0; p < s_prompt.Length; p++)
            {
                float[] row = new float[vocab];
                Buffer.BlockCopy(bytes, 10 + headerLength + p * vocab * 4, row, 0, vocab * 4);
                AssertNmse.Close(expected[p].Select(v => (float)v).ToArray(), row, 1e-5, $"dumped logits at position {p}");
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Test]
    public void The_repetition_penalty_changes_greedy_choices_but_not_the_logits()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        string[] args = ["generate", "--model", model, "--prompt-ids", "127958,9906,9906,9906", "--temperature", "0", "--max-tokens", "8", "--json", "--weights", "q8", "--context", "64"];
        static int[] Ids((int Exit, string Out, string Error) run)
        {
            Assert.That(run.Exit, Is.Zero, run.Error);
            return [.. JsonDocument.Parse(run.Out).RootElement.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32())];
        }

        int[] plain = Ids(Hyvk.Run([.. args, "--repetition-penalty", "1"]));
        int[] strong = Ids(Hyvk.Run([.. args, "--repetition-penalty", "50"]));
        Assert.That(strong, Is.Not.EqualTo(plain), "a strong penalty steers greedy decoding away from what it saw");
        Assert.That(strong.Distinct().Count(), Is.EqualTo(strong.Length), "with penalty 50 no token repeats in 8 steps on this model");
    }

    [Test]
    public void Sampling_with_a_seed_is_reproducible()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        string[] args = ["generate", "--model", model, "--prompt", "Hello", "--temperature", "1.5", "--top-k", "40", "--top-p", "0.95",
            "--seed", "7", "--max-tokens", "5", "--json", "--weights", "q8", "--context", "64"];
        string first = Hyvk.Run(args).Out, second = Hyvk.Run(args).Out;
        int[] Ids(string json) => [.. JsonDocument.Parse(json).RootElement.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32())];
        Assert.That(Ids(second), Is.EqualTo(Ids(first)));
    }

    [Test]
    public void A_prompt_longer_than_the_context_is_a_clear_error()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        (int exit, _, string error) = Hyvk.Run("generate", "--model", model, "--prompt-ids", "1,2,3,4,5,6,7,8", "--context", "4", "--weights", "q8");
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(error, Does.Contain("The prompt has 8 tokens; the context holds 4"));
    }

    [Test]
    public void Tools_from_a_file_reach_the_template_and_a_bad_file_is_refused_before_loading()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        string dir = Directory.CreateTempSubdirectory("hyvk-tools").FullName;
        try
        {
            string tools = Path.Combine(dir, "tools.json");
            File.WriteAllText(tools, """[{"type": "function", "function": {"name": "get_weather", "description": "The weather", "parameters": {"type": "object"}}}]""");
            string[] args = ["generate", "--model", model, "--prompt", "Weather?", "--max-tokens", "1", "--context", "1024", "--weights", "q8", "--json"];
            (int exit, string output, string error) = Hyvk.Run([.. args, "--tools", tools]);
            Assert.That(exit, Is.Zero, error);
            int[] prompt = [.. JsonNode.Parse(output)!["prompt_ids"]!.AsArray().Select(n => n!.GetValue<int>())];
            string rendered = HunyuanTokenizer.FromModelDirectory(model).Decode(prompt);
            Assert.That(rendered, Does.Contain("get_weather").And.Contain("Weather?"));
            Assert.That(JsonNode.Parse(output)!["tool_calls"], Is.InstanceOf<JsonArray>());

            // A reply with a call (scripted: the random model writes none) shows it apart from the answer, and --json lists it.
            var tokenizer = HunyuanTokenizer.FromModelDirectory(model);
            string reply = string.Join(',', tokenizer.Encode("<answer>\nChecking.<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Lima\"}}]</tool_calls>\n</answer><|eos|>", allowSpecial: true));
            string[] scripted = ["generate", "--model", model, "--prompt", "Weather?", "--context", "1024", "--weights", "q8", "--tools", tools, "--scripted-reply-ids", reply];
            (exit, output, error) = Hyvk.Run(scripted);
            Assert.That(exit, Is.Zero, error);
            Assert.That(output, Does.Contain("[answer]\nChecking.\n[tool call] get_weather {\"city\":\"Lima\"}"));
            Assert.That(output, Does.Not.Contain("tool_calls"));
            (exit, output, error) = Hyvk.Run([.. scripted, "--json"]);
            Assert.That(exit, Is.Zero, error);
            Assert.That(JsonNode.Parse(output)!["tool_calls"]![0]!["arguments"]!["city"]!.GetValue<string>(), Is.EqualTo("Lima"));

            File.WriteAllText(tools, """[{"type": "function", "function": {"description": "no name"}}]""");
            (exit, _, error) = Hyvk.Run([.. args, "--tools", tools]);
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(error, Does.Contain(tools).And.Contain("tools[0]").And.Not.Contain("loading"));

            (exit, _, error) = Hyvk.Run("generate", "--model", model, "--prompt", "x", "--raw", "--tools", tools);
            Assert.That(exit, Is.Not.Zero);
            Assert.That(error, Does.Contain("--tools needs the chat template"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void Streams_text_with_the_chat_template()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        (int exit, string output, string error) = Hyvk.Run("generate", "--model", model, "--prompt", "Hi", "--no-think", "--max-tokens", "4", "--context", "64");
        Assert.That(exit, Is.Zero, error);
        Assert.That(output, Is.Not.Empty);
        Assert.That(error, Does.Contain("loading").And.Contain("decode"));
    }

    [Test]
    public void Chat_takes_turns_switches_thinking_and_quits()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        (int exit, string output, string error) = Hyvk.RunWithInput("Hello\n/no_think\nAnd then?\n/exit\nnever read\n",
            "chat", "--model", model, "--temperature", "0", "--max-tokens", "4", "--context", "256", "--weights", "q8");
        Assert.That(exit, Is.Zero, error);
        Assert.That(error, Does.Contain("fast thinking"));
        Assert.That(System.Text.RegularExpressions.Regex.Count(error, "tokens at"), Is.EqualTo(2), "two replies");
        Assert.That(System.Text.RegularExpressions.Regex.Count(output, "> "), Is.GreaterThanOrEqualTo(3), "a prompt per line read");
    }
}

/// <summary>The placement options of generate: experts on the host said so on stderr; a budget the always-on weights
/// cannot fit, or a malformed value, refused before anything loads, with a non-zero exit.</summary>
public sealed class GeneratePlacementTests : VulkanTest
{
    private static readonly string[] s_ids = ["127958", "9906", "1917", "127962"];

    [Test]
    public void Host_experts_give_the_greedy_tokens_of_the_all_device_run_and_say_where_they_are()
    {
        string model = TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false });
        string[] common = ["generate", "--device", "vulkan", "--model", model, "--prompt-ids", string.Join(',', s_ids), "--weights", "q8", "--temperature", "0", "--max-tokens", "4", "--json", "--context", "64"];
        (int exit, string output, string error) = Hyvk.Run([.. common, "--host-experts", "all", "--device-memory", "1"]);
        Assert.That(exit, Is.Zero, error);
        Assert.That(error, Does.Contain("0 layers on the device, 2 on the host").And.Contain(" of 1.00 GB"));
        (int exit0, string output0, string error0) = Hyvk.Run([.. common, "--host-experts", "0"]);
        Assert.That(exit0, Is.Zero, error0);
        Assert.That(error0, Does.Contain("2 layers on the device, 0 on the host"));
        static int[] Ids(string json) => [.. JsonDocument.Parse(json).RootElement.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32())];
        Assert.That(Ids(output), Is.EqualTo(Ids(output0)));
    }

    [TestCase("--device-memory", "0.00001", "Even with every layer's routed experts on the host")]
    [TestCase("--device-memory", "-1", "--device-memory must be a positive number of GB")]
    [TestCase("--device-memory", "NaN", "--device-memory must be a positive number of GB")]
    [TestCase("--host-experts", "some", "--host-experts takes a number of layers (0 or more), all or auto")]
    [TestCase("--host-experts", "-2", "--host-experts takes a number of layers")]
    [TestCase("--kv", "q4", "--kv takes f16 or q8; got 'q4'")]
    public void A_placement_that_cannot_be_is_refused_before_loading(string option, string value, string message)
    {
        string model = TestModels.Directory(TestModels.Tiny());
        (int exit, _, string error) = Hyvk.Run("generate", "--device", "vulkan", "--model", model, "--prompt", "hi", "--max-tokens", "2", option, value);
        Assert.That(exit, Is.Not.Zero);
        Assert.That(error, Does.Contain(message));
        Assert.That(error, Does.Not.Contain("loaded").And.Not.Contain("   at "), "nothing loaded, no stack trace");
    }

    /// <summary>The whole context the model is made for (256K positions), on a tiny model whose cache is small, in either
    /// format: the estimate names the cache, the answer comes, and the int8 cache's greedy tokens are f16's here.</summary>
    [Test]
    public void The_full_256k_context_runs_in_f16_and_int8()
    {
        string model = TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false });
        string[] common = ["generate", "--device", "vulkan", "--model", model, "--prompt-ids", string.Join(',', s_ids), "--weights", "q8", "--temperature", "0", "--max-tokens", "5", "--json", "--context", "262144"];
        (int exit, string output, string error) = Hyvk.Run(common);
        Assert.That(exit, Is.Zero, error);
        Assert.That(error, Does.Contain("KV cache 0.13 GiB (f16)"), "2 layers x K and V x 262144 positions x 128 B");
        (int exitQ8, string outputQ8, string errorQ8) = Hyvk.Run([.. common, "--kv", "q8"]);
        Assert.That(exitQ8, Is.Zero, errorQ8);
        Assert.That(errorQ8, Does.Contain("KV cache 0.07 GiB (q8)"), "36 B per head row of 32 values instead of 64");
        static int[] Ids(string json) => [.. JsonDocument.Parse(json).RootElement.GetProperty("generated_ids").EnumerateArray().Select(e => e.GetInt32())];
        Assert.That(Ids(outputQ8), Is.EqualTo(Ids(output)).And.Not.Empty);

        // The host executor: its cache for the whole context in host memory, f16 and int8.
        string[] host = [.. common.Where(a => a != "vulkan").Select(a => a == "--device" ? "--device=cpu" : a)];
        (int exitHost, string outputHost, string errorHost) = Hyvk.Run(host);
        Assert.That(exitHost, Is.Zero, errorHost);
        (int exitHostQ8, string outputHostQ8, string errorHostQ8) = Hyvk.Run([.. host, "--kv", "q8"]);
        Assert.That(exitHostQ8, Is.Zero, errorHostQ8);
        Assert.That(errorHost + errorHostQ8, Does.Contain("on the host executor"));
        // Q8 weights with int8 activations: the int8 cache's rounding may flip a near tie of this random model after the
        // first tokens (the goldens hold the host's int8 cache to the device's limits); the prompt's own choice agrees.
        Assert.That(Ids(outputHost), Has.Length.EqualTo(5));
        Assert.That(Ids(outputHostQ8), Has.Length.EqualTo(5));
        Assert.That(Ids(outputHostQ8)[0], Is.EqualTo(Ids(outputHost)[0]));
    }

    /// <summary>#16: every sampling and length option is checked when parsed, before anything loads, with the option's
    /// own name (before: -1 tokens, a negative or infinite temperature, top-k 0 or 100000 were taken; top-p 0, 2 or
    /// NaN failed only after loading; --context 0 divided by zero; an id past int's range was an OverflowException).</summary>
    [TestCase("generate", "--max-tokens", "-1", "--max-tokens must be 1 or more; got -1.")]
    [TestCase("generate", "--temperature", "-1", "--temperature must be a number of 0 or more; got -1.")]
    [TestCase("generate", "--temperature", "Infinity", "--temperature must be a number of 0 or more; got Infinity.")]
    [TestCase("generate", "--top-k", "0", "--top-k must be from 1 to 64; got 0.")]
    [TestCase("generate", "--top-k", "100000", "--top-k must be from 1 to 64; got 100000.")]
    [TestCase("generate", "--top-p", "0", "--top-p must be above 0 and at most 1; got 0.")]
    [TestCase("generate", "--top-p", "2", "--top-p must be above 0 and at most 1; got 2.")]
    [TestCase("generate", "--top-p", "NaN", "--top-p must be above 0 and at most 1; got NaN.")]
    [TestCase("generate", "--repetition-penalty", "0", "--repetition-penalty must be a number above 0; got 0.")]
    [TestCase("generate", "--think-budget", "-5", "--think-budget must be 0 or more; got -5.")]
    [TestCase("generate", "--context", "0", "--context must be 2 or more; got 0.")]
    [TestCase("generate", "--context", "-1", "--context must be 2 or more; got -1.")]
    [TestCase("generate", "--prompt-ids", "99999999999999999999", "--prompt-ids: '99999999999999999999' is not a token id")]
    [TestCase("generate", "--prompt-ids", "1,-2", "--prompt-ids: '-2' is not a token id")]
    [TestCase("chat", "--context", "0", "--context must be 2 or more; got 0.")]
    [TestCase("chat", "--max-tokens", "0", "--max-tokens must be 1 or more; got 0.")]
    [TestCase("chat", "--temperature", "NaN", "--temperature must be a number of 0 or more; got NaN.")]
    [TestCase("generate", "--dump-logits", "/nonexistent-hyvk-dir/logits.npy", "--dump-logits /nonexistent-hyvk-dir/logits.npy: the directory '/nonexistent-hyvk-dir' does not exist")]
    [TestCase("generate", "--dump-logits", "/tmp", "--dump-logits /tmp: is a directory")]
    [TestCase("generate", "--model", "config.json", "config.json: a file, not a model directory")]
    public void A_bad_option_is_refused_before_loading_naming_it(string command, string option, string value, string message)
    {
        string model = TestModels.Directory(TestModels.Tiny());
        if (option == "--model")
        {
            model = Path.Combine(model, value);   // a file inside the model directory
        }

        string[] args = option == "--model" ? [command, "--model", model, "--prompt", "hi"]
            : command == "generate" && option != "--prompt-ids" ? [command, "--model", model, "--prompt", "hi", option, value] : [command, "--model", model, option, value];
        (int exit, string output, string error) = Hyvk.RunWithInput(command == "chat" ? "/exit\n" : string.Empty, args);
        Assert.That(exit, Is.Not.Zero, output);
        Assert.That(error, Does.Contain(message));
        Assert.That(error, Does.Not.Contain("loaded").And.Not.Contain("   at ").And.Not.Contain("(Parameter"), "nothing loaded, no stack trace");
    }

    /// <summary>#16: a generation that ends because the context is full says so (before, it read as the token limit).</summary>
    [Test]
    public void A_reply_cut_by_the_context_says_so()
    {
        string model = TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false });
        string[] common = ["generate", "--model", model, "--prompt-ids", string.Join(',', s_ids), "--weights", "q8", "--temperature", "0", "--repetition-penalty", "1", "--json", "--context", "9"];
        (int exit, string output, string error) = Hyvk.Run([.. common, "--max-tokens", "100"]);
        Assert.That(exit, Is.Zero, error);
        JsonElement root = JsonDocument.Parse(output).RootElement;
        Assert.That(root.GetProperty("finish_reason").GetString(), Is.EqualTo("context_full"), "this greedy reply meets no stop token in 5");
        Assert.That(root.GetProperty("generated_ids").GetArrayLength(), Is.EqualTo(9 - s_ids.Length), "every free position used");
        Assert.That(error, Does.Contain("the context is full (9 positions)"));

        (int exit2, string output2, string error2) = Hyvk.Run([.. common, "--max-tokens", "2"]);
        Assert.That(exit2, Is.Zero, error2);
        Assert.That(JsonDocument.Parse(output2).RootElement.GetProperty("finish_reason").GetString(), Is.EqualTo("length"));
        Assert.That(error2, Does.Not.Contain("context is full"));
    }

    /// <summary>#16: user-facing errors carry no .NET "(Parameter 'x')" suffix: an id past the vocabulary, found once the
    /// model has loaded; and tokenize --file naming a directory says so, not "Access denied".</summary>
    [Test]
    public void Errors_read_as_sentences_for_people()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        (int exit, _, string error) = Hyvk.Run("generate", "--model", model, "--prompt-ids", "1,999999999", "--max-tokens", "2");
        Assert.That(exit, Is.Not.Zero);
        Assert.That(error, Does.Contain("999999999").And.Contain("vocabulary").And.Not.Contain("(Parameter").And.Not.Contain("   at "));
        (int exitTok, _, string errorTok) = Hyvk.Run("tokenize", "--model", model, "--file", Path.GetTempPath());
        Assert.That(exitTok, Is.Not.Zero);
        Assert.That(errorTok, Does.Contain("is a directory").And.Not.Contain("denied"));
    }

    /// <summary>#16 point 3: logits that overflow (finite weights, here a final norm of bf16's largest value) stop a
    /// generation, greedy or sampled, with an error naming the position (before: NaN logits decoded as "!!", exit 0).
    /// #24 point 3: so do router logits that overflow (the first layer's router of bf16's largest value), with the
    /// experts on the device or on the host (before: an expert id of 0xFFFFFFFF; on the host "no expert -1"), and on the
    /// host executor.</summary>
    [TestCase("model.norm.weight", "0", "--device vulkan --host-experts 0")]
    [TestCase("model.norm.weight", "0.8", "--device vulkan --host-experts 0")]
    [TestCase("model.norm.weight", "0.8", "--device cpu")]
    [TestCase("model.layers.0.mlp.gate.wg.weight", "0", "--device vulkan --host-experts 0")]
    [TestCase("model.layers.0.mlp.gate.wg.weight", "0.8", "--device vulkan --host-experts all")]
    [TestCase("model.layers.0.mlp.gate.wg.weight", "0", "--device cpu")]
    public void Logits_that_are_not_finite_stop_the_generation_with_an_error(string tensor, string temperature, string placement)
    {
        using var patched = new PatchedModel(TestModels.Directory(TestModels.Tiny()), tensor, PatchedModel.Bf16Max);
        (int exit, string output, string error) = Hyvk.Run(["generate", "--model", patched.Directory, "--prompt-ids", string.Join(',', s_ids), "--weights", "q8",
            "--temperature", temperature, "--max-tokens", "4", .. placement.Split(' ')]);
        Assert.That(exit, Is.Not.Zero, output);
        Assert.That(error, Does.Contain("are not finite (NaN or infinity)").And.Contain($"position {s_ids.Length - 1}").And.Not.Contain("   at "));
    }
}
