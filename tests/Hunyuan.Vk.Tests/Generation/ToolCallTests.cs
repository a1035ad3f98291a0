using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Text;
using Microsoft.Extensions.AI;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;
using AiRole = Microsoft.Extensions.AI.ChatRole;

namespace Hunyuan.Vk.Tests.Generation;

/// <summary>
/// Tool calls end to end through the library on the tiny model: the reply is scripted (a random model never writes a
/// call), but every id still runs through the model, the decoder, the parser and the chat client, as a real reply.
/// </summary>
[NonParallelizable]
public sealed class ToolCallTests : VulkanTest
{
    private const string Call =
        "<think>\nThe user wants the weather.\n</think>\n<answer>\n<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Shenzhen\", "
        + "\"when\": {\"days\": [1, 2], \"unit\": \"c\"}}}, {\"name\": \"ping\", \"arguments\": {}}]</tool_calls>\n</answer><|eos|>";

    private static readonly JsonNode s_weather = JsonNode.Parse("""
        {"type": "function", "function": {"name": "get_weather", "description": "The weather in a city",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
        """)!;

    private HunyuanEngine _engine = null!;

    [OneTimeSetUp]
    public void Load() =>
        _engine = HunyuanEngine.Load(TestModels.Directory(TestModels.Tiny()), new EngineOptions { Weights = WeightFormat.Q8, ContextLength = 1024 });

    [OneTimeTearDown]
    public void Unload() => _engine.Dispose();

    private List<int> Ids(string text) => _engine.Tokenizer.Encode(text, allowSpecial: true);

    [Test]
    public async Task Tool_calls_arrive_as_their_own_updates_and_never_as_answer_text()
    {
        var stats = new GenerationStats();
        var options = new GenerateOptions { Tools = [s_weather], ScriptedReply = Ids(Call), Stats = stats, MaxTokens = 200 };
        List<GenerationUpdate> updates = [];
        await foreach (GenerationUpdate u in _engine.ChatAsync([Vk.Text.ChatMessage.User("Weather in Shenzhen?")], options))
        {
            updates.Add(u);
        }

        string answer = string.Concat(updates.Where(u => u.Part == ReplyPart.Answer).Select(u => u.Text));
        Assert.That(answer, Does.Not.Contain("tool_calls").And.Not.Contain("{").And.Not.Contain("</answer>"));
        Assert.That(string.Concat(updates.Where(u => u.Part == ReplyPart.Reasoning).Select(u => u.Text)), Is.EqualTo("The user wants the weather."));
        List<ToolCall> calls = [.. updates.Where(u => u.Part == ReplyPart.ToolCall).Select(u => u.Call!)];
        Assert.That(calls.Select(c => c.Name), Is.EqualTo(new[] { "get_weather", "ping" }));
        Assert.That(calls[0].Arguments!["when"]!["days"]!.AsArray().Select(d => d!.GetValue<int>()), Is.EqualTo(new[] { 1, 2 }), "nested JSON kept");
        Assert.That(calls[1].Arguments!.AsObject(), Is.Empty, "empty arguments, and the call before them kept its own");
        Assert.That(calls.Select(c => c.Id), Is.Unique);
        Assert.That(calls.Select(c => c.Id), Has.All.Matches<string>(id => System.Text.RegularExpressions.Regex.IsMatch(id, "^call_[0-9a-f]{24}$")));
        Assert.That(stats.FinishReason, Is.EqualTo(FinishReason.ToolCalls));
        Assert.That(stats.GeneratedTokens, Is.EqualTo(Ids(Call).Count));
    }

    [Test]
    public async Task Stop_sequences_end_the_answer_before_them_and_length_is_reported()
    {
        var stats = new GenerationStats();
        string answer = await Answer(new GenerateOptions { ScriptedReply = Ids("<answer>\nOne, two, STOP three</answer><|eos|>"), StopSequences = ["STOP"], Stats = stats });
        Assert.That(answer, Is.EqualTo("One, two, "));
        Assert.That(stats.FinishReason, Is.EqualTo(FinishReason.Stop));

        answer = await Answer(new GenerateOptions { ScriptedReply = Ids("<answer>\nOne, two, three</answer><|eos|>"), StopSequences = ["STOP", "thre!"], Stats = stats });
        Assert.That(answer, Is.EqualTo("One, two, three"), "a held-back prefix (thre) shows once the sequence cannot match");

        answer = await Answer(new GenerateOptions { ScriptedReply = Ids("<answer>\nOne, two, three</answer><|eos|>"), MaxTokens = 3, Stats = stats });
        Assert.That(stats.FinishReason, Is.EqualTo(FinishReason.Length));
        Assert.That(stats.GeneratedTokens, Is.EqualTo(3));
    }

    private async Task<string> Answer(GenerateOptions options)
    {
        var text = new System.Text.StringBuilder();
        await foreach (GenerationUpdate u in _engine.ChatAsync([Vk.Text.ChatMessage.User("Count")], options))
        {
            if (u.Part == ReplyPart.Answer)
            {
                text.Append(u.Text);
            }
        }

        return text.ToString();
    }

    [Test]
    public void Chat_options_map_to_the_engine()
    {
        AIFunction f = AIFunctionFactory.Create((string city) => "sunny", "get_weather", "The weather in a city");
        GenerateOptions g = HunyuanChatClient.ToGenerateOptions(new ChatOptions
        {
            Tools = [f], StopSequences = ["END"], Seed = 5, Reasoning = new ReasoningOptions { Effort = ReasoningEffort.None }, MaxOutputTokens = 9,
        });
        Assert.That(g.Tools![0]["function"]!["name"]!.GetValue<string>(), Is.EqualTo("get_weather"));
        Assert.That(g.Tools[0]["function"]!["parameters"]!["properties"]!["city"], Is.Not.Null);
        Assert.That((g.StopSequences, g.Seed, g.Thinking, g.MaxTokens), Is.EqualTo((new[] { "END" }, 5, false, 9)));
        Assert.That(HunyuanChatClient.ToGenerateOptions(new ChatOptions { Tools = [f], ToolMode = ChatToolMode.None }).Tools, Is.Null, "ToolMode None: no tools rendered");
        Assert.That(HunyuanChatClient.ToGenerateOptions(new ChatOptions { Tools = [f], ToolMode = ChatToolMode.RequireAny }).Tools, Has.Count.EqualTo(1));
        Assert.That(HunyuanChatClient.ToGenerateOptions(new ChatOptions { Reasoning = new ReasoningOptions { Effort = ReasoningEffort.High } }).Thinking, Is.True);
    }

    [Test]
    public async Task Function_invocation_runs_a_call_then_the_result_then_the_answer()
    {
        var called = new List<string>();
        AIFunction weather = AIFunctionFactory.Create((string city) =>
        {
            called.Add(city);
            return $"{city}: 31 C, sunny";
        }, "get_weather", "The weather in a city");
        string call = "<answer>\n<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Shenzhen\"}}]</tool_calls>\n</answer><|eos|>";
        _engine.ScriptedReplies.Enqueue(Ids(call));
        _engine.ScriptedReplies.Enqueue(Ids("<answer>\nIt is sunny.\n</answer><|eos|>"));
        using IChatClient client = new ChatClientBuilder(_engine.AsChatClient()).UseFunctionInvocation().Build();
        ChatResponse response = await client.GetResponseAsync([new AiMessage(AiRole.User, "Weather in Shenzhen?")], new ChatOptions { Tools = [weather] });

        Assert.That(called, Is.EqualTo(new[] { "Shenzhen" }));
        Assert.That(response.Text, Is.EqualTo("It is sunny."));
        Assert.That(response.FinishReason, Is.EqualTo(ChatFinishReason.Stop));
        Assert.That(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Single().Name, Is.EqualTo("get_weather"));
        FunctionResultContent result = response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>().Single();
        Assert.That(result.Result?.ToString(), Does.Contain("31 C"));
        Assert.That(response.Usage?.OutputTokenCount, Is.GreaterThan(0));
        Assert.That(response.Usage?.CachedInputTokenCount, Is.GreaterThan(0), "the second turn reuses the first's prompt from the cache");
        Assert.That(_engine.ScriptedReplies, Is.Empty);

        // The second prompt rendered the call and its result as the template does.
        string rendered = ChatTemplate.Render([Vk.Text.ChatMessage.User("x"), new Vk.Text.ChatMessage(Vk.Text.ChatRole.Assistant, "")
        {
            ToolCalls = [new ToolCall("get_weather", JsonNode.Parse("{\"city\": \"Shenzhen\"}"))],
        }, Vk.Text.ChatMessage.Tool("Shenzhen: 31 C, sunny")], new ChatTemplateOptions { Tools = [s_weather], Now = new DateTime(2026, 1, 1) });
        Assert.That(rendered, Does.Contain("<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Shenzhen\"}}]</tool_calls><|eos|>")
            .And.Contain("<tool_response>Shenzhen: 31 C, sunny</tool_response>"));
    }
}
