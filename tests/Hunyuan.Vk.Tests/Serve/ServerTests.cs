using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Server;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;
using AiRole = Microsoft.Extensions.AI.ChatRole;

namespace Hunyuan.Vk.Tests.Serve;

/// <summary>
/// <c>hyvk serve</c>'s server on Kestrel at a loopback port, driven by the official OpenAI .NET client, by
/// Microsoft.Extensions.AI's OpenAI chat client inside FunctionInvokingChatClient, and by plain HTTP for what the
/// client hides (reasoning_content, the SSE framing, error bodies). Tool-call replies are scripted
/// (<see cref="HunyuanEngine.ScriptedReplies"/>); everything else is the tiny random model generating.
/// </summary>
[NonParallelizable]
public sealed class ServerTests : VulkanTest
{
    private HunyuanEngine _engine = null!;
    private OpenAiServer _server = null!;
    // No draining of a response dropped unread: disposing it closes the connection at once, as a client that leaves.
    private readonly HttpClient _http = new(new SocketsHttpHandler { MaxResponseDrainSize = 0 });

    [OneTimeSetUp]
    public async Task Start()
    {
        _engine = HunyuanEngine.Load(TestModels.Directory(TestModels.Tiny()), new EngineOptions { Weights = WeightFormat.Q8, ContextLength = 1024 });
        _server = await OpenAiServer.StartAsync(new ServeOptions { Port = 0, Queue = 4 }, _engine);
    }

    [TearDown]
    public void ReleaseHeldGenerations() => _engine.TokenPermits = null;

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _server.DisposeAsync();
        _engine.Dispose();
        _http.Dispose();
    }

    private ChatClient Client() => new("hunyuan-a13b", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(_server.Address, "v1") });

    private List<int> Ids(string text) => _engine.Tokenizer.Encode(text, allowSpecial: true);

    private async Task<(HttpStatusCode, JsonNode)> Post(string path, string body)
    {
        using HttpResponseMessage r = await _http.PostAsync(new Uri(_server.Address, path), new StringContent(body, Encoding.UTF8, "application/json"));
        return (r.StatusCode, JsonNode.Parse(await r.Content.ReadAsStringAsync())!);
    }

    [Test]
    public async Task The_openai_client_gets_the_same_greedy_answer_whole_and_streamed()
    {
        ChatClient client = Client();
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6 };
        ChatCompletion whole = await client.CompleteChatAsync([new UserChatMessage("Hello there")], options);
        Assert.That(whole.FinishReason, Is.EqualTo(OpenAI.Chat.ChatFinishReason.Length));
        Assert.That(whole.Usage.OutputTokenCount, Is.EqualTo(6));
        Assert.That(whole.Usage.InputTokenCount, Is.GreaterThan(0));

        var streamed = new StringBuilder();
        OpenAI.Chat.ChatFinishReason? finish = null;
        await foreach (StreamingChatCompletionUpdate u in client.CompleteChatStreamingAsync([new UserChatMessage("Hello there")], options))
        {
            foreach (ChatMessageContentPart p in u.ContentUpdate)
            {
                streamed.Append(p.Text);
            }

            finish ??= u.FinishReason;
        }

        Assert.That(streamed.ToString(), Is.EqualTo(whole.Content.Count > 0 ? whole.Content[0].Text : ""));
        Assert.That(finish, Is.EqualTo(OpenAI.Chat.ChatFinishReason.Length));

        // The prompt's KV carries across requests: the same conversation again runs only its last prompt token.
        ChatCompletion again = await client.CompleteChatAsync([new UserChatMessage("Hello there")], options);
        Assert.That(again.Usage.InputTokenDetails.CachedTokenCount, Is.EqualTo(again.Usage.InputTokenCount - 1));
    }

    [Test]
    public async Task Tool_calls_reach_the_openai_client_with_nested_and_empty_arguments()
    {
        _engine.ScriptedReplies.Enqueue(Ids("<think>\nweather\n</think>\n<answer>\n<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", "
            + "\"when\": {\"days\": [1, 2]}}}, {\"name\": \"ping\", \"arguments\": {}}]</tool_calls>\n</answer><|eos|>"));
        var options = new ChatCompletionOptions
        {
            Tools = { ChatTool.CreateFunctionTool("get_weather", "The weather", BinaryData.FromString("""{"type": "object", "properties": {"city": {"type": "string"}}}""")) },
        };
        ChatCompletion c = await Client().CompleteChatAsync([new UserChatMessage("Weather in Paris?")], options);
        Assert.That(c.FinishReason, Is.EqualTo(OpenAI.Chat.ChatFinishReason.ToolCalls));
        Assert.That(c.ToolCalls.Select(t => t.FunctionName), Is.EqualTo(new[] { "get_weather", "ping" }));
        Assert.That(JsonNode.Parse(c.ToolCalls[0].FunctionArguments.ToString())!["when"]!["days"]![1]!.GetValue<int>(), Is.EqualTo(2));
        Assert.That(c.ToolCalls[1].FunctionArguments.ToString(), Is.EqualTo("{}"));
        Assert.That(c.Content.Select(p => p.Text), Has.None.Contains("tool_calls"));

        // Streamed: the call arrives as tool-call deltas (id and name, then arguments), never as content.
        _engine.ScriptedReplies.Enqueue(Ids("<answer>\n<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Rome\"}}]</tool_calls>\n</answer><|eos|>"));
        var content = new StringBuilder();
        var arguments = new StringBuilder();
        string? name = null, id = null;
        OpenAI.Chat.ChatFinishReason? finish = null;
        await foreach (StreamingChatCompletionUpdate u in Client().CompleteChatStreamingAsync([new UserChatMessage("Weather in Rome?")], options))
        {
            content.Append(string.Concat(u.ContentUpdate.Select(p => p.Text)));
            foreach (StreamingChatToolCallUpdate t in u.ToolCallUpdates)
            {
                name ??= t.FunctionName;
                id ??= t.ToolCallId;
                arguments.Append(t.FunctionArgumentsUpdate?.ToString());
            }

            finish ??= u.FinishReason;
        }

        Assert.That((name, content.ToString(), finish), Is.EqualTo(("get_weather", "", (OpenAI.Chat.ChatFinishReason?)OpenAI.Chat.ChatFinishReason.ToolCalls)));
        Assert.That(id, Does.StartWith("call_"));
        Assert.That(JsonNode.Parse(arguments.ToString())!["city"]!.GetValue<string>(), Is.EqualTo("Rome"));
    }

    [Test]
    public async Task Function_invocation_over_the_server_runs_call_result_answer()
    {
        var calls = new List<string>();
        AIFunction weather = AIFunctionFactory.Create((string city) =>
        {
            calls.Add(city);
            return $"{city}: 25 C";
        }, "get_weather", "The weather in a city");
        _engine.ScriptedReplies.Enqueue(Ids("<answer>\n<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}]</tool_calls>\n</answer><|eos|>"));
        _engine.ScriptedReplies.Enqueue(Ids("<answer>\nIt is 25 C in Oslo.\n</answer><|eos|>"));
        using IChatClient client = new ChatClientBuilder(Client().AsIChatClient()).UseFunctionInvocation().Build();
        ChatResponse r = await client.GetResponseAsync([new AiMessage(AiRole.User, "Weather in Oslo?")], new ChatOptions { Tools = [weather] });
        Assert.That(calls, Is.EqualTo(new[] { "Oslo" }));
        Assert.That(r.Text, Is.EqualTo("It is 25 C in Oslo."));
        Assert.That(_engine.ScriptedReplies, Is.Empty);
    }

    [Test]
    public async Task Reasoning_comes_in_its_own_field_and_thinking_can_be_turned_off()
    {
        _engine.ScriptedReplies.Enqueue(Ids("<think>\nLet me see.\n</think>\n<answer>\nFour.\n</answer><|eos|>"));
        (HttpStatusCode status, JsonNode body) = await Post("v1/chat/completions", """{"messages": [{"role": "user", "content": [{"type": "text", "text": "2+2?"}]}]}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        JsonNode message = body["choices"]![0]!["message"]!;
        Assert.That((message["reasoning_content"]!.GetValue<string>(), message["content"]!.GetValue<string>()), Is.EqualTo(("Let me see.", "Four.")));

        // Through the official client: the answer is the content, and the reasoning is in the raw response's own field.
        _engine.ScriptedReplies.Enqueue(Ids("<think>\nCount.\n</think>\n<answer>\nFour.\n</answer><|eos|>"));
        ClientResult<ChatCompletion> viaClient = await Client().CompleteChatAsync([new UserChatMessage("2+2?")]);
        Assert.That(viaClient.Value.Content[0].Text, Is.EqualTo("Four."));
        Assert.That(JsonNode.Parse(viaClient.GetRawResponse().Content.ToString())!["choices"]![0]!["message"]!["reasoning_content"]!.GetValue<string>(), Is.EqualTo("Count."));

        // SSE framing: data lines, reasoning deltas apart from content, [DONE] last.
        _engine.ScriptedReplies.Enqueue(Ids("<think>\nHmm.\n</think>\n<answer>\nYes.\n</answer><|eos|>"));
        using HttpResponseMessage r = await _http.PostAsync(new Uri(_server.Address, "v1/chat/completions"),
            new StringContent("""{"messages": [{"role": "user", "content": "?"}], "stream": true}""", Encoding.UTF8, "application/json"));
        Assert.That(r.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/event-stream"));
        string[] events = (await r.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.That(events, Has.All.StartWith("data: "));
        Assert.That(events[^1], Is.EqualTo("data: [DONE]"));
        List<JsonNode> deltas = [.. events[..^1].Select(e => JsonNode.Parse(e[6..])!["choices"]![0]!["delta"]!)];
        Assert.That(string.Concat(deltas.Select(d => d["reasoning_content"]?.GetValue<string>())), Is.EqualTo("Hmm."));
        Assert.That(string.Concat(deltas.Select(d => d["content"]?.GetValue<string>())), Is.EqualTo("Yes."));

        // Fast thinking three ways: the prompt ends with the empty think block each time.
        foreach (string body2 in new[]
        {
            """{"messages": [{"role": "user", "content": "hi"}], "chat_template_kwargs": {"enable_thinking": false}, "max_tokens": 1}""",
            """{"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "none", "max_tokens": 1}""",
            """{"messages": [{"role": "user", "content": "/no_think hi"}], "max_tokens": 1}""",
        })
        {
            ChatRequest request = ChatRequest.Parse(JsonNode.Parse(body2));
            Assert.That(request.Options.Thinking, Is.False, body2);
        }

        Assert.That(ChatRequest.Parse(JsonNode.Parse("""{"messages": [{"role": "user", "content": "hi"}]}""")).Options.Thinking, Is.True);
    }

    [TestCase("{\"messages\": [", 400, null, TestName = "Malformed JSON is 400")]
    [TestCase("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}", 400, "messages[0].role", TestName = "An unknown role is 400")]
    [TestCase("{\"messages\": [{\"role\": \"user\", \"content\": 5}]}", 400, "messages[0].content", TestName = "Content of a wrong type is 400")]
    [TestCase("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"n\": 2}", 400, "n", TestName = "n above 1 is 400")]
    [TestCase("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": \"hot\"}", 400, "temperature", TestName = "A wrong type is 400")]
    [TestCase("{\"messages\": []}", 400, "messages", TestName = "No messages is 400")]
    [TestCase("{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"system\", \"content\": \"y\"}]}", 400, "messages[1].role", TestName = "A late system message is 400")]
    public async Task Bad_requests_get_an_openai_error_naming_the_field(string body, int status, string? param)
    {
        (HttpStatusCode code, JsonNode error) = await Post("v1/chat/completions", body);
        Assert.That((int)code, Is.EqualTo(status));
        Assert.That(error["error"]!["type"]!.GetValue<string>(), Is.EqualTo("invalid_request_error"));
        Assert.That(error["error"]!["message"]!.GetValue<string>(), Is.Not.Empty.And.Not.Contains("   at "));
        Assert.That(error["error"]!["param"]?.GetValue<string>(), Is.EqualTo(param));
    }

    [Test]
    public async Task A_prompt_over_the_context_names_both_sizes_and_the_client_sees_the_error()
    {
        string longText = string.Join(' ', Enumerable.Repeat("word", 1500));
        ClientResultException e = Assert.ThrowsAsync<ClientResultException>(() => Client().CompleteChatAsync([new UserChatMessage(longText)]))!;
        Assert.That(e.Status, Is.EqualTo(400));
        Assert.That(e.Message, Does.Contain("context holds 1024"));
        await Task.CompletedTask;
    }

    [Test]
    public async Task Models_health_and_unknown_paths()
    {
        JsonNode models = JsonNode.Parse(await _http.GetStringAsync(new Uri(_server.Address, "v1/models")))!;
        Assert.That(models["data"]![0]!["id"]!.GetValue<string>(), Is.EqualTo("hunyuan-a13b"));
        Assert.That((await _http.GetAsync(new Uri(_server.Address, "health"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        using HttpResponseMessage missing = await _http.GetAsync(new Uri(_server.Address, "v1/nothing"));
        Assert.That(missing.StatusCode, Is.EqualTo(HttpStatusCode.NotFound));
        Assert.That(JsonNode.Parse(await missing.Content.ReadAsStringAsync())!["error"]!["type"]!.GetValue<string>(), Is.EqualTo("not_found_error"));
    }

    [Test]
    public async Task An_api_key_is_required_when_set_and_health_waits_for_the_model()
    {
        await using OpenAiServer keyed = await OpenAiServer.StartAsync(new ServeOptions { Port = 0, ApiKey = "sekret" });
        Assert.That((await _http.GetAsync(new Uri(keyed.Address, "health"))).StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable), "no engine yet");
        using HttpResponseMessage denied = await _http.GetAsync(new Uri(keyed.Address, "v1/models"));
        Assert.That(denied.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
        keyed.SetEngine(_engine);
        Assert.That((await _http.GetAsync(new Uri(keyed.Address, "health"))).StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var client = new ChatClient("hunyuan-a13b", new ApiKeyCredential("sekret"), new OpenAIClientOptions { Endpoint = new Uri(keyed.Address, "v1") });
        ChatCompletion c = await client.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 2 });
        Assert.That(c.Usage.OutputTokenCount, Is.EqualTo(2));
    }

    [Test]
    public async Task Text_completions_take_text_or_ids_and_stream_the_same_greedy_text()
    {
        (HttpStatusCode status, JsonNode whole) = await Post("v1/completions", """{"prompt": [9906, 1917], "max_tokens": 5, "temperature": 0}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(whole["object"]!.GetValue<string>(), Is.EqualTo("text_completion"));
        string text = whole["choices"]![0]!["text"]!.GetValue<string>();
        Assert.That(whole["choices"]![0]!["finish_reason"]!.GetValue<string>(), Is.EqualTo("length"));
        Assert.That(whole["usage"]!["completion_tokens"]!.GetValue<int>(), Is.EqualTo(5));
        Assert.That(whole["usage"]!["prompt_tokens"]!.GetValue<int>(), Is.EqualTo(2));

        // The same prompt as text ("Hello world" is 9906, 1917), streamed.
        using HttpResponseMessage r = await _http.PostAsync(new Uri(_server.Address, "v1/completions"),
            new StringContent("""{"prompt": "Hello world", "max_tokens": 5, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}""", Encoding.UTF8, "application/json"));
        string[] events = (await r.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.That(events[^1], Is.EqualTo("data: [DONE]"));
        List<JsonNode> chunks = [.. events[..^1].Select(e => JsonNode.Parse(e[6..])!)];
        Assert.That(string.Concat(chunks.Where(c => c["choices"]!.AsArray().Count > 0).Select(c => c["choices"]![0]!["text"]!.GetValue<string>())), Is.EqualTo(text));
        Assert.That(chunks[^1]["usage"]!["completion_tokens"]!.GetValue<int>(), Is.EqualTo(5));
    }

    [TestCase("{\"prompt\": [9906, 999999]}", "prompt", "outside the vocabulary", TestName = "A token id outside the vocabulary is 400")]
    [TestCase("{\"prompt\": [\"a\", \"b\"]}", "prompt", "one request each", TestName = "Several prompts are 400")]
    [TestCase("{\"prompt\": \"\"}", "prompt", "empty", TestName = "An empty prompt is 400")]
    [TestCase("{\"prompt\": \"hi\", \"echo\": true}", "echo", "not supported", TestName = "echo is 400")]
    public async Task Bad_completion_requests_are_400_naming_the_field(string body, string param, string says)
    {
        (HttpStatusCode code, JsonNode error) = await Post("v1/completions", body);
        Assert.That(code, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(error["error"]!["param"]!.GetValue<string>(), Is.EqualTo(param));
        Assert.That(error["error"]!["message"]!.GetValue<string>(), Does.Contain(says));
    }

    [Test]
    public async Task A_body_over_the_limit_is_413_in_openai_shape()
    {
        await using OpenAiServer small = await OpenAiServer.StartAsync(new ServeOptions { Port = 0, MaxBodyBytes = 1000 }, _engine);
        string body = "{\"prompt\": \"" + new string('x', 5000) + "\"}";
        using HttpResponseMessage r = await _http.PostAsync(new Uri(small.Address, "v1/completions"), new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.That((int)r.StatusCode, Is.EqualTo(413));
        Assert.That(JsonNode.Parse(await r.Content.ReadAsStringAsync())!["error"]!["message"]!.GetValue<string>(), Is.Not.Empty);
    }

    [Test]
    public async Task Metrics_count_requests_and_tokens_in_prometheus_text()
    {
        string before = await _http.GetStringAsync(new Uri(_server.Address, "metrics"));
        (HttpStatusCode status, _) = await Post("v1/completions", """{"prompt": [9906, 1917, 0], "max_tokens": 3, "temperature": 0}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        string after = await _http.GetStringAsync(new Uri(_server.Address, "metrics"));
        Assert.That(Metric(after, "hyvk_generated_tokens_total") - Metric(before, "hyvk_generated_tokens_total"), Is.EqualTo(3));
        Assert.That(Metric(after, "hyvk_prompt_tokens_total") - Metric(before, "hyvk_prompt_tokens_total"), Is.EqualTo(3));
        Assert.That(Metric(after, "hyvk_requests_total{path=\"/v1/completions\",status=\"200\"}"), Is.GreaterThanOrEqualTo(1));
        Assert.That(after, Does.Contain("# TYPE hyvk_queue_length gauge"));
    }

    /// <summary>#23 point 6: the generation is held by token permits (two), so "soon" is a count, not a time: it was
    /// "fewer than 50 tokens", which a fast device could pass before the close is seen.</summary>
    [Test]
    public async Task A_client_that_disconnects_mid_stream_stops_its_generation()
    {
        double before = Metric(await _http.GetStringAsync(new Uri(_server.Address, "metrics")), "hyvk_generated_tokens_total");
        using var permits = new SemaphoreSlim(2);
        _engine.TokenPermits = permits;
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(_server.Address, "v1/completions"))
        {
            Content = new StringContent("""{"prompt": [9906], "max_tokens": 500, "temperature": 0, "stream": true}""", Encoding.UTF8, "application/json"),
        })
        using (HttpResponseMessage r = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await r.Content.ReadAsStreamAsync());
            Assert.That(await reader.ReadLineAsync(), Does.StartWith("data: "));
        }   // gone after the first chunk

        // The next request waits for the device, so once it is answered the dropped one has ended and been counted.
        _engine.TokenPermits = null;
        (HttpStatusCode status, _) = await Post("v1/completions", """{"prompt": [9906], "max_tokens": 1}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
        double generated = Metric(await _http.GetStringAsync(new Uri(_server.Address, "metrics")), "hyvk_generated_tokens_total") - before - 1;
        Assert.That(generated, Is.InRange(1, 3), "stopped at the third token, held for a permit when the client left, not after 500");
    }

    [Test]
    public async Task A_full_queue_is_503_with_retry_after()
    {
        await using OpenAiServer single = await OpenAiServer.StartAsync(new ServeOptions { Port = 0, Queue = 0 }, _engine);
        using var permits = new SemaphoreSlim(1);   // the running one holds the device at its second token, however fast
        _engine.TokenPermits = permits;
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(single.Address, "v1/completions"))
        {
            Content = new StringContent("""{"prompt": [9906], "max_tokens": 1000, "temperature": 0, "stream": true}""", Encoding.UTF8, "application/json"),
        };
        using (HttpResponseMessage running = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            using var reader = new StreamReader(await running.Content.ReadAsStreamAsync());
            Assert.That(await reader.ReadLineAsync(), Does.StartWith("data: "), "one generating");
            using HttpResponseMessage refused = await _http.PostAsync(new Uri(single.Address, "v1/completions"),
                new StringContent("""{"prompt": [9906], "max_tokens": 1}""", Encoding.UTF8, "application/json"));
            Assert.That(refused.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
            Assert.That(refused.Headers.RetryAfter, Is.Not.Null);
            Assert.That(JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>(), Is.EqualTo("queue_full"));
        }

        // Once the first has gone, the device is free again.
        _engine.TokenPermits = null;
        (HttpStatusCode status, _) = await Post("v1/completions", """{"prompt": [9906], "max_tokens": 1}""");
        Assert.That(status, Is.EqualTo(HttpStatusCode.OK));
    }

    [Test]
    public async Task Waiting_requests_are_served_in_arrival_order()
    {
        // The order is read from the server (its queue gauge and which response has started), not from when the
        // client's continuations happen to run: two short replies a millisecond apart can finish in either order there.
        await using OpenAiServer server = await OpenAiServer.StartAsync(new ServeOptions { Port = 0, Queue = 4 }, _engine);
        HttpRequestMessage Streamed() => new(HttpMethod.Post, new Uri(server.Address, "v1/completions"))
        {
            Content = new StringContent("""{"prompt": [9906], "max_tokens": 1000, "temperature": 0, "stream": true}""", Encoding.UTF8, "application/json"),
        };
        async Task WaitForQueue(int length)
        {
            for (var clock = System.Diagnostics.Stopwatch.StartNew(); clock.Elapsed < TimeSpan.FromSeconds(30); await Task.Delay(20))
            {
                if (Metric(await _http.GetStringAsync(new Uri(server.Address, "metrics")), "hyvk_queue_length") == length)
                {
                    return;
                }
            }

            Assert.Fail($"the queue never reached {length}");
        }

        // A generates; B, then C, wait for the device. Each token waits for a permit, given one at a time, so A and B
        // are held at a known token whatever the device's speed (they were 1,000 tokens long, which a fast device
        // could finish while the test arranged the queue).
        using var permits = new SemaphoreSlim(1);
        _engine.TokenPermits = permits;
        using HttpRequestMessage requestA = Streamed(), requestB = Streamed();
        HttpResponseMessage a = await _http.SendAsync(requestA, HttpCompletionOption.ResponseHeadersRead);
        var readerA = new StreamReader(await a.Content.ReadAsStreamAsync());
        Assert.That(await readerA.ReadLineAsync(), Does.StartWith("data: "), "A generating");
        Task<HttpResponseMessage> b = _http.SendAsync(requestB, HttpCompletionOption.ResponseHeadersRead);
        await WaitForQueue(1);
        Task<HttpResponseMessage> c = _http.PostAsync(new Uri(server.Address, "v1/completions"),
            new StringContent("""{"prompt": [9906], "max_tokens": 1}""", Encoding.UTF8, "application/json"));
        await WaitForQueue(2);
        Assert.That(b.IsCompleted || c.IsCompleted, Is.False, "none answered while the device was busy");

        // A leaves: B, the first to wait, is served while C still waits.
        readerA.Dispose();
        a.Dispose();
        await WaitForQueue(1);   // B has the device (A has ended: it held it until its cancellation), C waits
        permits.Release();
        using (HttpResponseMessage responseB = await b.WaitAsync(TimeSpan.FromSeconds(60)))
        {
            using var readerB = new StreamReader(await responseB.Content.ReadAsStreamAsync());
            Assert.That(await readerB.ReadLineAsync(), Does.StartWith("data: "), "B generating");
            Assert.That(c.IsCompleted, Is.False, "C waits behind B");
            Assert.That(Metric(await _http.GetStringAsync(new Uri(server.Address, "metrics")), "hyvk_queue_length"), Is.EqualTo(1));
        }   // B leaves: C is served

        await WaitForQueue(0);   // C has the device
        permits.Release();
        using HttpResponseMessage responseC = await c.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.That(responseC.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }

    // The value of a sample line "NAME VALUE" (0 when absent).
    private static double Metric(string text, string name) =>
        text.Split('\n').Where(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Select(l => double.Parse(l[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
}
