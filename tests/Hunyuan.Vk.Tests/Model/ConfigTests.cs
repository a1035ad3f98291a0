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
    // #16: values that made NaN or a stack trace, and a misleading message.
    [TestCase("rms_norm_eps", "0", "rms_norm_eps: 0 must be a positive number")]
    [TestCase("rms_norm_eps", "-1e-5", "rms_norm_eps: -1E-05 must be a positive number")]
    [TestCase("rope_theta", "0", "rope_theta: 0 must be a positive number")]
    [TestCase("rope_scaling", "{\"type\": \"dynamic\", \"alpha\": -2}", "rope_scaling.alpha: -2 must be a positive number")]
    [TestCase("rope_scaling", "{\"type\": 5, \"alpha\": 1000}", "rope_scaling.type: '5' is not supported")]
    [TestCase("rope_scaling", "[1]", "rope_scaling: [1] is not an object")]
    [TestCase("hidden_size", "2147483648", "hidden_size: 2147483648 is too large (at most 2147483647)")]
    [TestCase("hidden_size", "4096.5", "hidden_size: 4096.5 is not an integer")]
    [TestCase("moe_topk", "1.5", "moe_topk: 1.5 is not an integer")]
    [TestCase("moe_topk", "[8, \"x\"]", "moe_topk: \"x\" is not an integer")]
    [TestCase("moe_layer_num_skipped", "\"two\"", "moe_layer_num_skipped")]
    [TestCase("architectures", "[7]", "[7] is not HunYuanMoEV1ForCausalLM")]
    [TestCase("quantization_config", "{\"quant_method\": 3}", "quantization_config.quant_method: '3' is not supported")]
    [TestCase("quantization_config", "{\"quant_method\": \"gptq\", \"bits\": \"4\"}", "quantization_config.bits: \"4\" is not an integer")]
    [TestCase("use_qk_norm", "1", "use_qk_norm: 1 is not true or false")]
    [TestCase("max_position_embeddings", "0", "max_position_embeddings: 0 must be positive")]
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

            // #16: a wrong type or value names the file and the field (before: .NET's message alone, or taken).
            foreach ((string json, string message) in new[]
            {
                ("""{"temperature": "hot"}""", "temperature: \"hot\" is not a number of 0 or more"),
                ("""{"temperature": -1}""", "temperature: -1 is not a number of 0 or more"),
                ("""{"top_p": 2}""", "top_p: 2 is not a number above 0 and at most 1"),
                ("""{"top_k": 1.5}""", "top_k: 1.5 is not a whole number of 0 or more"),
                ("""{"eos_token_id": [1, "x"]}""", "eos_token_id: \"x\" is not a token id"),
                ("""{"do_sample": "yes"}""", "do_sample: \"yes\" is not true or false"),
                ("""[1]""", "expected a JSON object"),
            })
            {
                File.WriteAllText(Path.Combine(dir, "generation_config.json"), json);
                Assert.That(() => GenerationConfig.Load(dir), Throws.TypeOf<ModelFormatException>().With.Message.Contains("generation_config.json: ").And.Message.Contains(message), json);
            }
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
