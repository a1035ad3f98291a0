using System.Text.Json;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Cli;

[Category("Vulkan")]
public sealed class GenerateCommandTests
{
    private static readonly string[] s_prompt = ["127958", "9906", "1917", "127962"];

    [Test]
    public void Json_output_has_the_greedy_tokens_of_the_reference()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        (int exit, string output, string error) = Hyvk.Run("generate", "--model", model, "--prompt-ids", string.Join(',', s_prompt),
            "--weights", "f32", "--temperature", "0", "--max-tokens", "6", "--json", "--context", "64");
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
    public void Streams_text_with_the_chat_template()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        (int exit, string output, string error) = Hyvk.Run("generate", "--model", model, "--prompt", "Hi", "--no-think", "--max-tokens", "4", "--context", "64");
        Assert.That(exit, Is.Zero, error);
        Assert.That(output, Is.Not.Empty);
        Assert.That(error, Does.Contain("loading").And.Contain("decode"));
    }
}
