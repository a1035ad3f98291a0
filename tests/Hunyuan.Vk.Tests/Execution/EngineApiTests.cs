using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;
using Microsoft.Extensions.AI;

namespace Hunyuan.Vk.Tests.Execution;

/// <summary>The embeddable API: streaming, cancellation, and the IChatClient adapter.</summary>
[Category("Vulkan")]
public sealed class EngineApiTests
{
    private static HunyuanEngine Load() =>
        HunyuanEngine.Load(TestModels.Directory(TestModels.Tiny()), new EngineOptions { Weights = WeightFormat.Q8, ContextLength = 128 });

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
}
