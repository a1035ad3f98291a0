using System.Text;
using Hunyuan.Vk.Fuzz;

namespace Hunyuan.Vk.Tests.Fuzzing;

/// <summary>
/// #16 point 6: the loaders' fuzzer (tools/Hunyuan.Vk.Fuzz, also run for longer as tools/fuzz) at fixed seeds, in CI:
/// every target's mutations refused with a clear error or accepted and valid; plus the inputs it found that were
/// not, kept here one by one, and checks that the harness itself reports what it should.
/// </summary>
public sealed class FuzzTests
{
    private string _scratch = null!;
    private IReadOnlyList<FuzzTarget> _targets = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _scratch = Path.Combine(Path.GetTempPath(), $"hyvk-fuzz-tests-{Environment.ProcessId}");
        _targets = Targets.Create(_scratch);
    }

    [OneTimeTearDown]
    public void TearDown() => Directory.Delete(_scratch, recursive: true);

    [TestCase(1)]
    [TestCase(2)]
    public void Seeded_mutations_of_every_input_find_nothing(int seed)
    {
        FuzzSummary s = new FuzzRun(_targets).Run(seed, first: 0, cases: 4500, TimeSpan.FromSeconds(60));
        TestContext.Out.WriteLine($"seed {seed}: {s.Cases} cases in {s.Elapsed.TotalSeconds:F1} s, {s.Accepted} accepted, {s.Refused} refused");
        Assert.That(s.Findings, Is.Empty, string.Join("\n", s.Findings));
        Assert.That(s.Cases, Is.EqualTo(4500), "all cases ran within the minute");
        Assert.That(s.PerTarget.Keys, Is.EquivalentTo(new[]
        {
            "safetensors", "index", "config", "generation_config", "tiktoken", "tokenizer-text", "chat-messages", "chat-request", "completion-request",
        }));
        Assert.That(s.PerTarget.Values, Is.All.EqualTo(500));
        Assert.That(s.Accepted, Is.GreaterThan(200), "mutations that stay valid are run through the checks of what was accepted");
        Assert.That(s.Refused, Is.GreaterThan(2000));
    }

    /// <summary>What the fuzzer found, each refused now with a clear error (before: the exception named, or accepted).</summary>
    [TestCase("chat-request", "{\"messages\": [{\"role\": \"user\", \"content\": \"\u00ff\"}]}", "\xc3", TestName = "Request with invalid UTF-8 in a string (was InvalidOperationException, a 500)")]
    [TestCase("chat-request", """{"messages": [{"role": "user", "content": "\ud800"}]}""", null, TestName = "Request with a lone surrogate escape (was InvalidOperationException)")]
    [TestCase("completion-request", """{"prompt": "a", "prompt": "b"}""", null, TestName = "Request with a key twice (was ArgumentException with .NET's text)")]
    [TestCase("chat-request", """{"messages": [{"role": "user", "content": "hi"}], "top_p": 0}""", null, TestName = "Request with top_p 0 (was accepted)")]
    [TestCase("completion-request", """{"prompt": "a", "top_k": 1000}""", null, TestName = "Request with top_k over the sampler's 64 (was clamped silently)")]
    [TestCase("index", """{"weight_map": {"model.norm.weight": "a\u0000b"}}""", null, TestName = "Index naming a file with a NUL (was ArgumentException from Path)")]
    [TestCase("index", """{"weight_map": {"model.norm.weight": ".."}}""", null, TestName = "Index naming the parent folder")]
    [TestCase("index", """{"weight_map": {"model.norm.weight": "model-00001-of-00002.safetensors", "model.norm.weight": "model-00002-of-00002.safetensors"}}""", null, TestName = "Index listing a tensor twice (was the last one kept)")]
    public void Inputs_the_fuzzer_found_are_refused(string target, string input, string? replace)
    {
        byte[] data = Encoding.UTF8.GetBytes(input);
        if (replace is not null)
        {
            data = [.. data.Take(Array.IndexOf(data, (byte)0xC3)), 0xC3, 0x28, .. data.Skip(Array.IndexOf(data, (byte)0xC3) + 2)];   // C3 28: a broken two-byte sequence
        }

        Exception? e = Assert.Catch(() => Target(target).Run(data));
        Assert.That(FuzzRun.IsClearError(e!), Is.True, $"{e!.GetType().Name}: {e.Message}");
        TestContext.Out.WriteLine(e.Message);
    }

    [Test]
    public void Config_sizes_that_cannot_run_are_refused()
    {
        FuzzTarget config = Target("config");
        string seed = Encoding.UTF8.GetString(config.Seed);
        foreach ((string from, string to) in new[]
        {
            ("\"intermediate_size\": ", "\"intermediate_size\": 0, \"x\": "),                  // the shared expert's size 0 (was accepted)
            ("\"num_attention_heads\": ", "\"num_attention_heads\": 1073741824, \"x\": "),    // heads x head_dim past int (was an overflow)
            ("\"rope_theta\": ", "\"rope_theta\": 1e-9, \"x\": "),
            ("\"rms_norm_eps\": ", "\"rms_norm_eps\": 1e-85, \"x\": "),                          // 0 as a float (was accepted: found by tools/fuzz)                             // a RoPE base under 1, even with alpha
        })
        {
            Assert.That(seed, Does.Contain(from));
            string edited = seed.Replace(from, to, StringComparison.Ordinal);
            Exception? e = Assert.Catch(() => config.Run(Encoding.UTF8.GetBytes(edited)), to);
            Assert.That(FuzzRun.IsClearError(e!), Is.True, $"{to}: {e!.GetType().Name}: {e.Message}");
        }
    }

    [TestCase("\"temperature\": 0.7", "\"temperature\": 1e45")]   // infinity as a float (was accepted: found by tools/fuzz)
    [TestCase("\"top_p\": 0.8", "\"top_p\": 1e-50")]            // 0 as a float
    public void Generation_config_values_are_checked_as_the_floats_they_become(string from, string to)
    {
        FuzzTarget generation = Target("generation_config");
        string seed = Encoding.UTF8.GetString(generation.Seed);
        Assert.That(seed, Does.Contain(from));
        Exception? e = Assert.Catch(() => generation.Run(Encoding.UTF8.GetBytes(seed.Replace(from, to, StringComparison.Ordinal))));
        Assert.That(FuzzRun.IsClearError(e!), Is.True, $"{e!.GetType().Name}: {e.Message}");
    }

    [Test]
    public void A_rank_file_without_every_single_byte_or_with_a_blank_line_is_handled()
    {
        FuzzTarget tiktoken = Target("tiktoken");
        string[] lines = Encoding.UTF8.GetString(tiktoken.Seed).TrimEnd('\n').Split('\n');
        Assert.That(tiktoken.Run(tiktoken.Seed), Is.Null, "the seed is valid");

        // A blank line inside: skipped by both readers alike (was a hang: the BPE read the file again on its own terms).
        Assert.That(tiktoken.Run(Encoding.UTF8.GetBytes(string.Join('\n', lines[..500]) + "\n\n" + string.Join('\n', lines[500..]) + "\n")), Is.Null);

        // The rank of one byte gone, the rest renumbered: refused by name (was KeyNotFoundException on encoding).
        int b = Array.FindIndex(lines, l => l.StartsWith("IQ== ", StringComparison.Ordinal));   // "!"
        string[] without = [.. lines.Where((_, i) => i != b).Select((l, i) => $"{l.Split(' ')[0]} {i}")];
        var error = Assert.Throws<InvalidDataException>(() => tiktoken.Run(Encoding.UTF8.GetBytes(string.Join('\n', without) + "\n")));
        Assert.That(error!.Message, Does.Contain("0x21"));
    }

    [Test]
    public void The_harness_reports_exceptions_accepted_invalid_input_unclear_refusals_and_hangs()
    {
        byte[] seed = "{\"a\": 1}"u8.ToArray();
        FuzzTarget[] broken =
        [
            new("throws", seed, _ => throw new FormatException("oops")),
            new("accepts", seed, _ => "not valid"),
            new("unclear", seed, _ => throw new InvalidDataException(" ")),
            new("fine", seed, _ => throw new InvalidDataException("a clear message")),
        ];
        FuzzSummary s = new FuzzRun(broken).Run(seed: 5, first: 0, cases: 40, TimeSpan.FromSeconds(30));
        Assert.That(s.Findings.Select(f => f.Target).Distinct(), Is.EquivalentTo(new[] { "throws", "accepts", "unclear" }));
        Assert.That(s.Findings.First(f => f.Target == "throws").Problem, Does.Contain("FormatException"));
        Assert.That(s.Findings[0].ToString(), Does.Contain("--seed 5 --case"), "a finding says how to run it again");
        Assert.That(s.Refused, Is.EqualTo(10));

        FuzzSummary hang = new FuzzRun([new FuzzTarget("hangs", seed, _ => { Thread.Sleep(5000); return null; })], TimeSpan.FromMilliseconds(200))
            .Run(seed: 1, first: 0, cases: 5, TimeSpan.FromSeconds(30));
        Assert.That(hang.Findings, Has.Count.EqualTo(1));
        Assert.That(hang.Findings[0].Problem, Does.Contain("hang"));
        Assert.That(hang.Cases, Is.EqualTo(1), "the run stops at a hang");
    }

    [Test]
    public void A_case_is_remade_from_its_seed_and_number()
    {
        var run = new FuzzRun(_targets);
        var steps1 = new List<string>();
        var steps2 = new List<string>();
        byte[] a = run.Input(7, 1234, "config", out _, steps1), b = run.Input(7, 1234, "config", out _, steps2);
        Assert.That(a, Is.EqualTo(b));
        Assert.That(steps1, Is.EqualTo(steps2).And.Not.Empty);
        Assert.That(run.Input(7, 1235, "config", out _, []), Is.Not.EqualTo(a));
    }

    private FuzzTarget Target(string name) => _targets.Single(t => t.Name == name);
}
