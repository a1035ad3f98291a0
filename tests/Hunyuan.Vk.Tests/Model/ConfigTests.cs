using System.Text.Json.Nodes;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Synthetic;

namespace Hunyuan.Vk.Tests.Model;

public sealed class ConfigTests
{
    private static JsonObject A13b() => JsonNode.Parse(new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.A13b }).ConfigJson())!.AsObject();

    [Test]
    public void Reads_the_real_a13b_fields()
    {
        HunyuanConfig c = HunyuanConfig.Parse(A13b().ToJsonString());
        Assert.Multiple(() =>
        {
            Assert.That(c.HiddenSize, Is.EqualTo(4096));
            Assert.That(c.Layers, Is.EqualTo(32));
            Assert.That((c.Heads, c.KvHeads, c.HeadDim, c.GroupSize), Is.EqualTo((32, 8, 128, 4)));
            Assert.That((c.Experts, c.TopK, c.ExpertIntermediate, c.SharedIntermediate), Is.EqualTo((64, 8, 3072, 3072)));
            Assert.That(c.VocabSize, Is.EqualTo(128167));
            Assert.That(c.UseQkNorm && c.NormTopKProb && c.TieWordEmbeddings, Is.True);
            Assert.That(c.RmsNormEps, Is.EqualTo(1e-5f));
            // Spec 2.2: 10000 * 1000^(128/126) = 11,158,839.925...
            Assert.That(c.RopeBase, Is.EqualTo(11_158_839.925).Within(0.001));
            Assert.That(c.Quantization.Format, Is.EqualTo(CheckpointFormat.Dense));
        });
    }

    [TestCase("use_cla", "true", "use_cla")]
    [TestCase("use_mla", "true", "use_mla")]
    [TestCase("attention_bias", "true", "attention_bias")]
    [TestCase("moe_intermediate_size", "[3072, 2048]", "mixed expert widths")]
    [TestCase("moe_topk", "[8, 4]", "moe_topk")]
    [TestCase("hidden_act", "\"gelu\"", "hidden_act")]
    [TestCase("architectures", "[\"LlamaForCausalLM\"]", "architectures")]
    [TestCase("num_key_value_heads", "5", "num_key_value_heads")]
    public void Refuses_what_it_does_not_support_naming_the_field(string field, string value, string expected)
    {
        JsonObject config = A13b();
        config["num_hidden_layers"] = 2;
        config[field] = JsonNode.Parse(value);
        var e = Assert.Throws<ModelFormatException>(() => HunyuanConfig.Parse(config.ToJsonString(), "x/config.json"));
        Assert.That(e!.Message, Does.StartWith("x/config.json: ").And.Contain(expected));
    }

    [Test]
    public void Refuses_rope_scaling_without_alpha()
    {
        JsonObject config = A13b();
        config["rope_scaling"] = JsonNode.Parse("""{"type": "dynamic", "factor": 2.0}""");
        Assert.That(() => HunyuanConfig.Parse(config.ToJsonString()), Throws.TypeOf<ModelFormatException>().With.Message.Contains("rope_scaling.alpha"));
    }

    [Test]
    public void Missing_fields_and_bad_json_are_named()
    {
        JsonObject config = A13b();
        config.Remove("hidden_size");
        Assert.That(() => HunyuanConfig.Parse(config.ToJsonString()), Throws.TypeOf<ModelFormatException>().With.Message.Contains("hidden_size: missing"));
        Assert.That(() => HunyuanConfig.Parse("{ not json"), Throws.TypeOf<ModelFormatException>().With.Message.Contains("not valid JSON"));
    }

    [Test]
    public void Reads_gptq_and_fp8_quantization_configs()
    {
        JsonObject gptq = JsonNode.Parse(new CheckpointGenerator(new GeneratorOptions { Format = CheckpointFormat.GptqInt4 }).ConfigJson())!.AsObject();
        Assert.That(HunyuanConfig.Parse(gptq.ToJsonString()).Quantization, Is.EqualTo(new QuantizationConfig(CheckpointFormat.GptqInt4, 4, 128, true, false)));
        gptq["quantization_config"]!["bits"] = 8;
        Assert.That(() => HunyuanConfig.Parse(gptq.ToJsonString()), Throws.TypeOf<ModelFormatException>().With.Message.Contains("quantization_config.bits"));
        JsonObject fp8 = JsonNode.Parse(new CheckpointGenerator(new GeneratorOptions { Format = CheckpointFormat.Fp8 }).ConfigJson())!.AsObject();
        Assert.That(HunyuanConfig.Parse(fp8.ToJsonString()).Quantization.Format, Is.EqualTo(CheckpointFormat.Fp8));
    }

    [Test]
    public void Generation_config_defaults_and_file()
    {
        string dir = Directory.CreateTempSubdirectory("hyvk-gen-").FullName;
        try
        {
            Assert.That(GenerationConfig.Load(dir).EosTokenIds, Is.EqualTo(new[] { 127960, 127967 }));
            File.WriteAllText(Path.Combine(dir, "generation_config.json"), """{"temperature": 0.5, "top_k": 5, "eos_token_id": 127960}""");
            GenerationConfig g = GenerationConfig.Load(dir);
            Assert.That((g.Temperature, g.TopK, g.TopP), Is.EqualTo((0.5f, 5, 0.8f)));
            Assert.That(g.EosTokenIds, Is.EqualTo(new[] { 127960 }));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
