using Hunyuan.Vk.Model;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Cli;

/// <summary><c>hyvk make-model</c> and <c>hyvk tokenize</c> as a user runs them.</summary>
public sealed class ModelCommandsTests
{
    private string _scratch = string.Empty;

    [SetUp]
    public void Scratch() => _scratch = Directory.CreateTempSubdirectory("hyvk-cli-").FullName;

    [TearDown]
    public void RemoveScratch() => Directory.Delete(_scratch, recursive: true);

    [Test]
    public void Make_model_writes_a_sharded_gptq_checkpoint_that_loads()
    {
        string dir = Path.Combine(_scratch, "gptq");
        (int exit, _, string error) = Hyvk.Run("make-model", "--out", dir, "--format", "gptq-int4", "--shards", "2", "--seed", "3", "--layers", "1");
        Assert.That(exit, Is.Zero, error);
        Assert.That(error, Does.Contain("done"));
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.SupersetOf(new[]
        {
            "config.json", "generation_config.json", "hy.tiktoken", "tokenizer_config.json",
            "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json",
        }));
        using ModelWeights weights = ModelWeights.Open(dir);
        Assert.That(weights.Config.Layers, Is.EqualTo(1));
        Assert.That(weights.Config.Quantization.Format, Is.EqualTo(CheckpointFormat.GptqInt4));
    }

    [Test]
    public void Make_model_refuses_bad_options_with_a_non_zero_exit()
    {
        Assert.That(Hyvk.Run("make-model", "--out", Path.Combine(_scratch, "x"), "--preset", "huge").Exit, Is.Not.Zero);
        Assert.That(Hyvk.Run("make-model").Exit, Is.Not.Zero, "--out is required");
        File.WriteAllText(Path.Combine(_scratch, "mine.txt"), "keep");
        (int exit, _, string error) = Hyvk.Run("make-model", "--out", _scratch);
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(error, Does.Contain("not empty"));
        Assert.That(Directory.GetFileSystemEntries(_scratch), Has.Length.EqualTo(1), "nothing written beside the user's file");
    }

    /// <summary>#16 point 5: an --out that names a file, and more shards than tensors, are refused before anything is
    /// written (before: the file was found after the whole model was written; 1000 shards wrote 74 without a word).</summary>
    [Test]
    public void Make_model_refuses_a_file_as_out_and_more_shards_than_tensors_at_once()
    {
        string file = Path.Combine(_scratch, "taken");
        File.WriteAllText(file, "keep");
        (int exit, _, string error) = Hyvk.Run("make-model", "--out", file);
        Assert.That(exit, Is.Not.Zero);
        Assert.That(error, Does.Contain("taken: is a file; --out names a directory to create").And.Not.Contain("writing"));
        Assert.That(File.ReadAllText(file), Is.EqualTo("keep"));
        (int exitShards, _, string errorShards) = Hyvk.Run("make-model", "--out", Path.Combine(_scratch, "s"), "--shards", "1000");
        Assert.That(exitShards, Is.Not.Zero);
        Assert.That(errorShards, Does.Match("--shards 1000: the checkpoint has [0-9]+ tensors, so at most [0-9]+ shards").And.Not.Contain("(Parameter"));
        Assert.That(Directory.GetFileSystemEntries(_scratch), Is.EqualTo(new[] { file }), "nothing else written");
    }

    /// <summary>#16 point 5: Ctrl-C (or SIGTERM) during make-model stops it, removes its NAME.partial-PID directory and
    /// exits 130; a staging directory left by a run that was killed outright is removed by the next run for the same
    /// name. #23 point 6: the write is held after its first tensor until the signal comes (a hidden option), so the
    /// signal lands mid-write however fast the machine is; and the child's SIGINT disposition is set explicitly: a
    /// process started with SIGINT ignored (a background job of a non-interactive shell, or a test runner started as
    /// one) keeps ignoring it, which is what made Ctrl-C look unhonoured.</summary>
    [TestCase("--default-signal=INT", "-INT")]
    [TestCase("--ignore-signal=INT", "-TERM")]
    public async Task Make_model_interrupted_leaves_nothing_and_a_later_run_sweeps_what_a_killed_one_left(string disposition, string signal)
    {
        string dir = Path.Combine(_scratch, "small");
        var start = new System.Diagnostics.ProcessStartInfo("env") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (string a in new[] { disposition, "dotnet", typeof(Hunyuan.Vk.Cli.Program).Assembly.Location, "make-model", "--out", dir, "--hold-after-first-tensor" })
        {
            start.ArgumentList.Add(a);
        }

        using System.Diagnostics.Process make = System.Diagnostics.Process.Start(start)!;
        var held = new TaskCompletionSource();
        var log = new System.Text.StringBuilder();
        make.ErrorDataReceived += (_, e) =>
        {
            lock (log)
            {
                log.AppendLine(e.Data);
            }

            if (e.Data?.Contains("held after the first tensor", StringComparison.Ordinal) == true)
            {
                held.TrySetResult();
            }
        };
        make.BeginErrorReadLine();
        Assert.That(await Task.WhenAny(held.Task, Task.Delay(TimeSpan.FromSeconds(60))), Is.SameAs(held.Task), "it started writing");
        Assert.That(Directory.GetDirectories(_scratch, "small.partial-*"), Has.Length.EqualTo(1), "its staging directory");
        using (System.Diagnostics.Process kill = System.Diagnostics.Process.Start("kill", [signal, make.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await make.WaitForExitAsync(timeout.Token);
        }

        string said;
        lock (log)
        {
            said = log.ToString();
        }

        Assert.That(make.ExitCode, Is.EqualTo(130), said);
        Assert.That(said, Does.Contain("stopped; the partial directory was removed"));
        Assert.That(Directory.GetFileSystemEntries(_scratch), Is.Empty, "no model, no partial directory");

        // A run killed outright leaves its staging directory; the next run for the name removes it (its process is gone).
        using (System.Diagnostics.Process gone = System.Diagnostics.Process.Start("true")!)
        {
            gone.WaitForExit();
            string stale = Path.Combine(_scratch, "tiny.partial-" + gone.Id.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Directory.CreateDirectory(stale);
            File.WriteAllText(Path.Combine(stale, "config.json"), "{}");
            (int exit, _, string error) = Hyvk.Run("make-model", "--out", Path.Combine(_scratch, "tiny"));
            Assert.That(exit, Is.Zero, error);
            Assert.That(error, Does.Contain($"removed {stale}, left by an earlier run that did not finish"));
            Assert.That(Directory.Exists(stale), Is.False);
        }
    }

    [Test]
    public void Tokenize_text_file_lines_and_decode()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        Assert.That(Hyvk.Run("tokenize", "--model", model, "--text", "Hello world").Out.Trim(), Is.EqualTo("[9906,1917]"));

        string file = Path.Combine(_scratch, "lines.txt");
        File.WriteAllText(file, "Hello world\nHello\r\n<|eos|>\n");
        (int exit, string output, _) = Hyvk.Run("tokenize", "--model", model, "--file", file);
        Assert.That(exit, Is.Zero);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(3), "lines split on \\n only; a final newline adds none");
        Assert.That(lines[0], Is.EqualTo("[9906,1917]"));
        var tokenizer = Vk.Text.HunyuanTokenizer.FromModelDirectory(model);
        Assert.That(lines[1], Is.EqualTo("[" + string.Join(',', tokenizer.Encode("Hello\r")) + "]"), "the \\r stays in its line");
        Assert.That(tokenizer.Encode("Hello\r"), Has.Count.EqualTo(2));
        Assert.That(lines[2], Does.Not.Contain("127960"), "special tokens are text unless allowed");

        string special = Hyvk.Run("tokenize", "--model", model, "--text", "<|eos|>", "--allow-special").Out.Trim();
        Assert.That(special, Is.EqualTo("[127960]"));
        Assert.That(Hyvk.Run("tokenize", "--model", model, "--decode", "--text", "9906, 1917").Out.Trim(), Is.EqualTo("Hello world"));
    }

    /// <summary>#23 point 7: the special tokens follow the rank file's last rank, as the release's tokenizer numbers them
    /// (they were fixed at 127957..., so a model with a shorter rank file could run no chat prompt).</summary>
    [Test]
    public void A_short_rank_file_numbers_the_special_tokens_after_its_last_rank()
    {
        string ranks = Path.Combine(_scratch, "short.tiktoken");
        File.WriteAllText(ranks, string.Join('\n', File.ReadLines(TestModels.RealRankFile).Take(814)) + "\n");
        string dir = Path.Combine(_scratch, "short");
        (int exit, _, string error) = Hyvk.Run("make-model", "--out", dir, "--tokenizer", ranks, "--vocab", "1024");
        Assert.That(exit, Is.Zero, error);

        Assert.That(Hyvk.Run("tokenize", "--model", dir, "--allow-special", "--text", "<|startoftext|>hi<|extra_0|>").Out.Trim(), Is.EqualTo("[815,71,72,819]"));
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        var generation = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "generation_config.json")))!;
        Assert.That(((int)config["eos_token_id"]!, (int)config["sep_token_id"]!), Is.EqualTo((817, 819)), "config.json names the shipped tokenizer's ids");
        Assert.That(generation["eos_token_id"]!.AsArray().Select(n => (int)n!), Is.EqualTo(new[] { 817, 824 }));

        (exit, string output, error) = Hyvk.Run("generate", "--model", dir, "--prompt", "hi", "--max-tokens", "3", "--json");
        Assert.That(exit, Is.Zero, error);
        var reply = System.Text.Json.Nodes.JsonNode.Parse(output)!;
        Assert.That(reply["prompt_ids"]!.AsArray().Select(n => (int)n!), Is.EqualTo(new[] { 815, 71, 72, 819 }), "<|startoftext|>hi<|extra_0|>");
        using var engine = Vk.Generation.HunyuanEngine.Load(dir, new Vk.Generation.EngineOptions { ContextLength = 64 });
        List<int> prompt = engine.EncodeChat([new Vk.Text.ChatMessage(Vk.Text.ChatRole.User, "hi")], thinking: false);
        Assert.That(prompt, Has.All.LessThan(1024));
        Assert.That(prompt, Does.Contain(815).And.Contain(819));
        Assert.That(engine.ChatAsync(prompt, new Vk.Generation.GenerateOptions { MaxTokens = 2, Temperature = 0 }).ToBlockingEnumerable().Count(), Is.GreaterThan(0));
    }

    [Test]
    public void Tokenize_errors_name_what_is_wrong()
    {
        (int exit, _, string error) = Hyvk.Run("tokenize", "--model", _scratch, "--text", "x");
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(error, Does.Contain("hy.tiktoken"));
        Assert.That(Hyvk.Run("tokenize", "--model", _scratch).Exit, Is.Not.Zero, "needs --text or --file");
        string model = TestModels.Directory(TestModels.Tiny());
        (exit, _, error) = Hyvk.Run("tokenize", "--model", model, "--decode", "--text", "1, x");
        Assert.That((exit, error.Contains("not a list of token ids", StringComparison.Ordinal)), Is.EqualTo((1, true)));
    }
}
