using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;
using Microsoft.Extensions.AI;

namespace Hunyuan.Vk.Tests.Generation;

/// <summary>The embeddable API: streaming, cancellation, and the IChatClient adapter.</summary>
public sealed class EngineApiTests : VulkanTest
{
    private static HunyuanEngine Load() =>
        HunyuanEngine.Load(TestModels.Directory(TestModels.Tiny()), new EngineOptions { Weights = WeightFormat.Q8, ContextLength = 128 });

    /// <summary>#16: a context of 0 (or 1) is refused before the device opens (before: a DivideByZeroException).</summary>
    [TestCase(0)]
    [TestCase(1)]
    [TestCase(-1)]
    public void A_context_too_short_for_a_reply_is_refused_before_loading(int positions)
    {
        long before = Context.AllocatedBytes;
        Assert.That(() => HunyuanEngine.Load(TestModels.Directory(TestModels.Tiny()), new EngineOptions { ContextLength = positions }),
            Throws.ArgumentException.With.Message.Contains($"ContextLength {positions}: a context holds at least 2 positions"));
        Assert.That(Context.AllocatedBytes, Is.EqualTo(before));
    }

    [Test]
    public async Task Streams_the_same_text_as_greedy_token_generation()
    {
        using HunyuanEngine engine = Load();
        int[] prompt = [127958, 9906, 1917, 127962];
        var options = new GenerateOptions { MaxTokens = 6, Temperature = 0, RepetitionPenalty = 1 };
        var text = new System.Text.StringBuilder();
        await foreach (GenerationUpdate u in engine.GenerateAsync(prompt, options))
        {
            Assert.That(u.Part, Is.EqualTo(Vk.Text.ReplyPart.Answer));
            text.Append(u.Text);
        }

        // The same call again gives the same text (greedy, fresh cache each time).
        var again = new System.Text.StringBuilder();
        await foreach (GenerationUpdate u in engine.GenerateAsync(prompt, options))
        {
            again.Append(u.Text);
        }

        Assert.That(again.ToString(), Is.EqualTo(text.ToString()));
    }

    [Test]
    public async Task Chat_client_answers_and_cancellation_stops_the_stream()
    {
        using HunyuanEngine engine = Load();
        IChatClient client = engine.AsChatClient();
        Assert.That(client.GetService(typeof(HunyuanEngine)), Is.SameAs(engine));
        ChatResponse response = await client.GetResponseAsync([new ChatMessage(ChatRole.System, "Be brief."), new ChatMessage(ChatRole.User, "Hi")],
            new ChatOptions { MaxOutputTokens = 5, Temperature = 0 });
        Assert.That(response.Messages, Has.Count.GreaterThanOrEqualTo(1));
        Assert.That(response.Messages[^1].Role, Is.EqualTo(ChatRole.Assistant));

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        Assert.That(async () =>
        {
            await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync([new ChatMessage(ChatRole.User, "Hi")], null, cancelled.Token))
            {
            }
        }, Throws.InstanceOf<OperationCanceledException>(), "a cancelled token stops before any work");
    }

    [Test]
    public async Task Cancelling_mid_stream_stops_the_generation()
    {
        using HunyuanEngine engine = Load();
        using var cancel = new CancellationTokenSource();
        int seen = 0;
        try
        {
            await foreach (GenerationUpdate _ in engine.GenerateAsync([9906, 1917], new GenerateOptions { MaxTokens = 100, Temperature = 0, RepetitionPenalty = 1 }, cancel.Token))
            {
                seen++;
                await cancel.CancelAsync();
            }

            Assert.Fail($"the stream ended by itself after {seen} updates; expected a cancellation");
        }
        catch (OperationCanceledException)
        {
            Assert.That(seen, Is.EqualTo(1));
        }

        // The engine is free again afterwards.
        await foreach (GenerationUpdate _ in engine.GenerateAsync([9906], new GenerateOptions { MaxTokens = 2, Temperature = 0 }))
        {
        }
    }

    [Test]
    public void Loading_reports_the_estimate_then_each_layer()
    {
        var log = new List<string>();
        var progress = new List<Vk.Execution.LoadProgress>();
        using HunyuanEngine engine = HunyuanEngine.Load(TestModels.Directory(TestModels.Tiny()),
            new EngineOptions { Weights = WeightFormat.Q4, ContextLength = 64, Log = log.Add, Progress = progress.Add, Executor = ExecutorChoice.BestDevice });
        int layers = engine.Config.Layers;
        Assert.That(log, Has.Some.Contains("experts: ").And.Contains("device: ").And.Contains(" GB of "), "the placement and its estimate come before the load");
        Assert.That(engine.Placement!.HostLayers, Is.EqualTo(layers), "auto on a CPU device: every layer's experts on the host");
        Assert.That(progress.Select(p => p.LayersDone), Is.EqualTo(Enumerable.Range(0, layers + 1)));
        Assert.That(progress.Select(p => p.DeviceBytes), Is.Ordered.And.All.GreaterThan(0));
    }

    [Test]
    public void Token_generation_fills_the_stats_and_applies_the_think_budget()
    {
        using HunyuanEngine engine = Load();
        var stats = new GenerationStats();
        List<int> prompt = engine.EncodeChat([Vk.Text.ChatMessage.User("Hi")], thinking: true);
        var options = new GenerateOptions { MaxTokens = 12, Temperature = 0, RepetitionPenalty = 1, ThinkBudget = 2, Stats = stats };
        int[] tokens = [.. engine.GenerateTokens(prompt, options)];
        int[] close = [.. engine.Tokenizer.Encode(TextGenerator.CloseThought)];
        Assert.That(tokens.Skip(2).Take(close.Length), Is.EqualTo(close),
            "after 2 thinking tokens the thought is closed for the model");
        Assert.That(stats.PromptTokens, Is.EqualTo(prompt.Count));
        Assert.That(stats.GeneratedTokens, Is.EqualTo(tokens.Length));
    }

    [Test]
    public void A_prompt_continuing_the_last_one_reuses_its_cache()
    {
        // Untied head so tokens depend on the whole network; F32 so a fresh run must agree token for token.
        string dir = TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false });
        var options = new EngineOptions { Weights = WeightFormat.F32, ContextLength = 64 };
        using HunyuanEngine engine = HunyuanEngine.Load(dir, options);
        int[] first = [127958, 9906, 1917, 220, 16, 17, 127962];
        int[] reply = [.. engine.GenerateTokens(first, new GenerateOptions { MaxTokens = 5, Temperature = 0, RepetitionPenalty = 1 })];

        // The next turn: the whole exchange so far, then more. All but the reply's last token (never fed) is cached.
        int[] second = [.. first, .. reply, 9906, 1917, 127962];
        var stats = new GenerationStats();
        int[] reused = [.. engine.GenerateTokens(second, new GenerateOptions { MaxTokens = 6, Temperature = 0, RepetitionPenalty = 1, Stats = stats })];
        Assert.That(stats.CachedPromptTokens, Is.EqualTo(first.Length + reply.Length - 1));
        Assert.That(stats.PromptTokens, Is.EqualTo(second.Length - stats.CachedPromptTokens));

        using HunyuanEngine fresh = HunyuanEngine.Load(dir, options);
        int[] expected = [.. fresh.GenerateTokens(second, new GenerateOptions { MaxTokens = 6, Temperature = 0, RepetitionPenalty = 1 })];
        Assert.That(reused, Is.EqualTo(expected), "the same tokens as a run from an empty cache");

        // A prompt that parts ways early keeps only the shared tokens.
        var other = new GenerationStats();
        _ = engine.GenerateTokens([127958, 42, 43, 44, 45], new GenerateOptions { MaxTokens = 2, Stats = other }).ToList();
        Assert.That(other.CachedPromptTokens, Is.EqualTo(1));
    }
}
