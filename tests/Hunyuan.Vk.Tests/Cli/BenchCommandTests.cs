using System.Text.Json;
using Hunyuan.Vk.Benchmarking;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Model.Synthetic;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Cli;

/// <summary><c>hyvk bench</c> on random weights: every figure is there and the counted ones hold (no speed is asserted).</summary>
public sealed class BenchCommandTests : VulkanTest
{
    private static readonly string[] s_metrics =
    [
        "copy_bandwidth", "prompt_tokens_per_second", "prompt_tokens_per_second_stddev", "time_to_first_token", "decode_tokens_per_second",
        "decode_tokens_per_second_stddev", "dispatches_per_token", "dispatches_per_layer", "submits_per_token", "host_record_ms", "host_submit_ms",
        "host_overhead_ms", "weight_bytes_per_token", "minimum_bytes_per_token", "peak_device_bytes", "floor_ms_per_token", "full_depth_ms_per_token",
        "load_seconds", "load_gb_per_second",
    ];

    [Test]
    public void Json_output_has_every_figure_and_the_counts_hold()
    {
        (int exit, string output, string error) = Hyvk.Run("bench", "--device", "vulkan", "--preset", "tiny", "-p", "5", "-n", "3", "-r", "2", "--weights", "q8", "--output", "json",
            "--host-experts", "0");
        Assert.That(exit, Is.Zero, error);
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement metrics = doc.RootElement.GetProperty("metrics");
        foreach (string name in s_metrics)
        {
            Assert.That(metrics.TryGetProperty(name, out JsonElement v) && v.ValueKind == JsonValueKind.Number, Is.True, name);
        }

        Assert.That(metrics.GetProperty("dispatches_per_layer").GetDouble(), Is.LessThanOrEqualTo(12), "the decode step's dispatch budget");
        Assert.That(metrics.GetProperty("submits_per_token").GetDouble(), Is.EqualTo(1));
        Assert.That(metrics.GetProperty("load_gb_per_second").GetDouble(), Is.GreaterThan(0), "the load was timed");
        // The kernels' own count of weight bytes equals the active weights computed from the config: no expert too many.
        var config = new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.Tiny }).Config;
        Assert.That(metrics.GetProperty("weight_bytes_per_token").GetInt64(), Is.EqualTo(ActiveWeights.PerToken(config, WeightFormat.Q8, config.Layers)));
        JsonElement kernels = doc.RootElement.GetProperty("kernels");
        Assert.That(kernels.EnumerateArray().Select(k => k.GetProperty("kernel").GetString()), Has.Member("moe_gate_up_q8").And.Member("attn_decode"));
        Assert.That(kernels.EnumerateArray().Sum(k => k.GetProperty("weight_bytes_per_token").GetInt64()),
            Is.EqualTo(metrics.GetProperty("weight_bytes_per_token").GetInt64()), "per-kernel bytes add up to the step's");
    }

    [Test]
    public void With_every_layers_experts_on_the_host_the_bytes_split_between_the_sides()
    {
        (int exit, string output, string error) = Hyvk.Run("bench", "--device", "vulkan", "--preset", "tiny", "-p", "5", "-n", "3", "-r", "1", "--weights", "q8", "--output", "json",
            "--host-experts", "all");
        Assert.That(exit, Is.Zero, error);
        JsonElement metrics = JsonDocument.Parse(output).RootElement.GetProperty("metrics");
        var c = new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.Tiny }).Config;
        Assert.That(metrics.GetProperty("submits_per_token").GetDouble(), Is.EqualTo(1), "the hand-offs are batches of one submit");
        Assert.That(metrics.GetProperty("hand_offs_per_token").GetInt32(), Is.EqualTo(c.Layers));
        Assert.That(metrics.GetProperty("host_bandwidth").GetDouble(), Is.GreaterThan(0), "measured");
        // On lavapipe (a CPU device) the shared experts go to the host too: top-k + 1 experts a layer there, none on the device.
        WeightFormatSpec q8 = WeightFormat.Q8.Spec();
        long expertDevice = q8.Bytes(2 * c.ExpertIntermediate, c.HiddenSize) + q8.Bytes(c.HiddenSize, c.ExpertIntermediate);
        int onHost = c.TopK + 1;
        Assert.That(metrics.GetProperty("weight_bytes_per_token").GetInt64(), Is.EqualTo(ActiveWeights.PerToken(c, WeightFormat.Q8, c.Layers) - c.Layers * onHost * expertDevice));
        Assert.That(metrics.GetProperty("host_expert_bytes_per_token").GetInt64(),
            Is.EqualTo(c.Layers * onHost * Vk.Execution.MemoryEstimate.HostLayerBytes(c, WeightFormat.Q8, 1)), "each chosen expert once, scales as f32");
    }

    [Test]
    public void The_host_executor_reports_its_ops_and_their_bytes_add_up()
    {
        (int exit, string output, string error) = Hyvk.Run("bench", "--device", "cpu", "--threads", "3", "--preset", "tiny", "-p", "9", "-n", "3", "-r", "2",
            "--weights", "q4", "--output", "json");
        Assert.That(exit, Is.Zero, error);
        Assert.That(error, Does.Contain("running on the host executor: asked for"));
        using JsonDocument doc = JsonDocument.Parse(output);
        JsonElement root = doc.RootElement, metrics = root.GetProperty("metrics");
        Assert.That((root.GetProperty("device").GetString(), root.GetProperty("threads").GetInt32()), Is.EqualTo(("host executor", 3)));
        foreach (string name in new[] { "host_bandwidth", "prompt_tokens_per_second", "decode_tokens_per_second", "floor_ms_per_token", "measured_over_floor" })
        {
            Assert.That(metrics.GetProperty(name).GetDouble(), Is.GreaterThan(0), name);
        }

        JsonElement[] ops = [.. root.GetProperty("ops").EnumerateArray()];
        string[] decode = ["embed", "norm", "qkv", "rope", "attention", "o", "router", "route", "experts", "head", "choice"];
        Assert.That(ops.Select(o => o.GetProperty("op").GetString()), Is.EqualTo(decode.Concat(decode.Select(d => "prompt " + d))));
        JsonElement[] decodeOps = ops[..decode.Length];
        Assert.That(decodeOps.Where(o => o.GetProperty("op").GetString() != "attention").Sum(o => o.GetProperty("bytes_per_token").GetInt64()),
            Is.EqualTo(metrics.GetProperty("weight_bytes_per_token").GetInt64()), "the ops' weight bytes add up to the token's");
        Assert.That(decodeOps.Single(o => o.GetProperty("op").GetString() == "attention").GetProperty("bytes_per_token").GetInt64(),
            Is.EqualTo(metrics.GetProperty("kv_bytes_per_token").GetInt64()).And.GreaterThan(0));
        Assert.That(decodeOps.Single(o => o.GetProperty("op").GetString() == "experts").GetProperty("gmac_per_second").GetDouble(), Is.GreaterThan(0));
    }

    [Test]
    public void A_preset_too_large_for_host_memory_is_refused_before_any_weight_is_made()
    {
        (int exit, _, string error) = Hyvk.Run("bench", "--device", "cpu", "--preset", "a13b", "--weights", "f32", "-p", "4", "-n", "2", "-r", "1");
        Assert.That(exit, Is.Not.Zero);
        Assert.That(error, Does.Contain("GB of host memory").And.Contain("is available"));
        Assert.That(error, Does.Not.Contain("made 1/"), "no layer was made");
    }

    [TestCase("--host-experts", "2")]
    [TestCase("--device-memory", "4")]
    public void Device_placement_options_are_refused_on_the_host_executor(string option, string value)
    {
        (int exit, _, string error) = Hyvk.Run("bench", "--device", "cpu", "--preset", "tiny", "-p", "3", "-n", "2", "-r", "1", option, value);
        Assert.That(exit, Is.Not.Zero);
        Assert.That(error, Does.Contain(option).And.Contain("host executor"));
    }

    [TestCase("csv", "metric,decode_tokens_per_second,")]
    [TestCase("md", "| decode |")]
    [TestCase("table", "roofline: floor")]
    public void Other_outputs_carry_the_figures(string format, string expected)
    {
        (int exit, string output, string error) = Hyvk.Run("bench", "--preset", "tiny", "-p", "3", "-n", "2", "-r", "1", "--output", format);
        Assert.That(exit, Is.Zero, error);
        Assert.That(output, Does.Contain(expected));
    }

    [Test]
    public void A_preset_too_large_for_the_device_is_refused_before_any_weight_is_made()
    {
        // 32 layers of A13B in F32 are ~330 GB: far above lavapipe's heap (the machine's RAM). Refused at once, with sizes.
        long start = Environment.TickCount64;
        (int exit, _, string error) = Hyvk.Run("bench", "--device", "vulkan", "--preset", "a13b", "--weights", "f32", "-p", "4", "-n", "2", "-r", "1");
        Assert.That(exit, Is.Not.Zero);
        Assert.That(error, Does.Contain("GB on the device").And.Contain("is the budget"));
        Assert.That(error, Does.Not.Contain("made 1/"), "no layer was made");
        TestContext.Out.WriteLine($"refused after {(Environment.TickCount64 - start) / 1000.0:F1} s");
    }

    [Test]
    public void Model_and_preset_exclude_each_other()
    {
        (int exit, _, string error) = Hyvk.Run("bench", "-p", "3");
        Assert.That(exit, Is.Not.Zero);
        Assert.That(error, Does.Contain("--model or --preset"));
        (exit, _, error) = Hyvk.Run("bench", "--model", "/nonexistent", "--layers", "2");
        Assert.That(exit, Is.Not.Zero);
        Assert.That(error, Does.Contain("go with --preset"));
    }

    [Test]
    public void Benchmarks_a_checkpoint_directory()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        (int exit, string output, string error) = Hyvk.Run("bench", "--device", "vulkan", "--model", model, "-p", "4", "-n", "2", "-r", "1", "--weights", "f16", "--output", "csv");
        Assert.That(exit, Is.Zero, error);
        Assert.That(output, Does.Contain("run,weights,F16").And.Contain("kernel,matvec_f16.ms_per_token,"));
    }

    /// <summary><c>-d</c>: prompt and decode after positions already in the cache; the KV bytes read are the cache's
    /// rows each decode step sees, half of f16's (and a little more) with the int8 cache.</summary>
    [Test]
    public void At_depth_the_kv_bytes_read_and_attentions_share_are_reported()
    {
        var c = new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.Tiny }).Config;
        long Bytes(string kv, out JsonElement metrics)
        {
            (int exit, string output, string error) = Hyvk.Run("bench", "--device", "vulkan", "--preset", "tiny", "-p", "5", "-n", "4", "-r", "1", "-d", "3000", "--kv", kv,
                "--output", "json", "--host-experts", "0");
            Assert.That(exit, Is.Zero, error);
            metrics = JsonDocument.Parse(output).RootElement.GetProperty("metrics").Clone();
            Assert.That(metrics.GetProperty("depth").GetInt32(), Is.EqualTo(3000));
            Assert.That(metrics.GetProperty("attention_share").GetDouble(), Is.InRange(0.01, 1), kv);
            Assert.That(metrics.GetProperty("attention_gb_per_second").GetDouble(), Is.GreaterThan(0), kv);
            return metrics.GetProperty("kv_bytes_per_token").GetInt64();
        }

        // Profiled steps see 3000 + 5 + 1 .. + 4 positions (the first four decode steps): their mean.
        double positions = 3000 + 5 + 2.5;
        long f16 = Bytes("f16", out _), q8 = Bytes("q8", out JsonElement q8Metrics);
        Assert.That(f16, Is.EqualTo((long)(positions * c.Layers * 2 * c.KvHeads * c.HeadDim * 2)).Within(c.Layers * 2 * c.KvDim * 2), "K and V of every position, every layer, f16");
        Assert.That((double)q8 / f16, Is.EqualTo(36 / 64.0).Within(1e-3), "int8: 32 values and one scale word per head row of 32");
        Assert.That(q8Metrics.GetProperty("kv_cache_bytes").GetInt64(), Is.EqualTo(2L * c.Layers * (3000 + 5 + 4 + 2) * c.KvHeads * 36));
    }
}
