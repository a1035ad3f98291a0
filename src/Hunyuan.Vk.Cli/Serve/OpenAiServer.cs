using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Hunyuan.Vk.Cli.Serve;

/// <summary>What <c>hyvk serve</c> listens on and how it queues.</summary>
internal sealed record ServeOptions
{
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>0: any free port (tests; <see cref="OpenAiServer.Address"/> says which).</summary>
    public int Port { get; init; } = 8080;

    /// <summary>Requests that may wait while one generates; more get 503 with Retry-After.</summary>
    public int Queue { get; init; } = 16;

    /// <summary>If set, requests need <c>Authorization: Bearer KEY</c>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The model id the API reports.</summary>
    public string ModelId { get; init; } = "hunyuan-a13b";

    /// <summary>Largest request body in bytes (413 above it).</summary>
    public long MaxBodyBytes { get; init; } = 8 << 20;
}

/// <summary>
/// An OpenAI-compatible HTTP server over one <see cref="HunyuanEngine"/> on Kestrel: <c>POST /v1/chat/completions</c>
/// (JSON or server-sent events), <c>POST /v1/completions</c> (raw prompt text or ids), <c>GET /v1/models</c>, <c>GET /health</c> (503 until the engine is set), <c>GET /metrics</c> (Prometheus text). One
/// generation runs at a time on the device; others wait in a bounded queue. Errors are OpenAI's shape, never a stack
/// trace; a client that goes away cancels its generation (the request's abort token reaches the engine, which stops
/// before its next token).
/// </summary>
internal sealed class OpenAiServer : IAsyncDisposable
{
    private static readonly JsonSerializerOptions s_json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly WebApplication _app;
    private readonly ServeOptions _options;
    private readonly SemaphoreSlim _device = new(1, 1);
    private volatile HunyuanEngine? _engine;
    private int _admitted;

    // /metrics: a registry of this server's own (tests run several servers in one process).
    private readonly CollectorRegistry _registry = Metrics.NewCustomRegistry();
    private readonly Counter _requests, _promptTokens, _cachedTokens, _generatedTokens;
    private readonly Gauge _queued, _decodeRate;

    private OpenAiServer(WebApplication app, ServeOptions options)
    {
        _app = app;
        _options = options;
        MetricFactory metrics = Metrics.WithCustomRegistry(_registry);
        _requests = metrics.CreateCounter("hyvk_requests_total", "HTTP requests answered", "path", "status");
        _promptTokens = metrics.CreateCounter("hyvk_prompt_tokens_total", "Prompt tokens of finished generations (cached ones included)");
        _cachedTokens = metrics.CreateCounter("hyvk_cached_prompt_tokens_total", "Prompt tokens found in the KV cache and not run again");
        _generatedTokens = metrics.CreateCounter("hyvk_generated_tokens_total", "Tokens generated");
        _queued = metrics.CreateGauge("hyvk_queue_length", "Requests waiting for the device");
        _decodeRate = metrics.CreateGauge("hyvk_decode_tokens_per_second", "Decode speed of the last generation");
    }

    /// <summary>Where it listens (the real port when <see cref="ServeOptions.Port"/> was 0).</summary>
    public Uri Address { get; private set; } = null!;

    public static async Task<OpenAiServer> StartAsync(ServeOptions options, HunyuanEngine? engine = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Limits.MaxRequestBodySize = options.MaxBodyBytes;
            k.AddServerHeader = false;
        });
        builder.WebHost.UseUrls($"http://{(options.Host.Contains(':') ? $"[{options.Host}]" : options.Host)}:{options.Port}");
        WebApplication app = builder.Build();
        var server = new OpenAiServer(app, options) { _engine = engine };
        app.Use(server.Guard);
        app.MapGet("/health", server.Health);
        app.MapGet("/v1/models", server.Models);
        app.MapGet("/metrics", server.MetricsText);
        app.MapPost("/v1/chat/completions", server.ChatCompletions);
        app.MapPost("/v1/completions", server.Completions);
        app.MapFallback(_ => throw new ApiError(404, "No such endpoint", code: "not_found"));
        await app.StartAsync().ConfigureAwait(false);
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address);
        return server;
    }

    /// <summary>The engine, once loaded (health turns 200).</summary>
    public void SetEngine(HunyuanEngine engine) => _engine = engine;

    /// <summary>Stops accepting, lets what runs end (cancelled after <paramref name="grace"/>), and frees the server.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        using var timeout = new CancellationTokenSource(grace);
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync().ConfigureAwait(false);
        _device.Dispose();
    }

    // Authorization, and every error in OpenAI's shape.
    private async Task Guard(HttpContext context, RequestDelegate next)
    {
        try
        {
            await Checked(context, next).ConfigureAwait(false);
        }
        finally
        {
            string path = context.GetEndpoint() is Microsoft.AspNetCore.Routing.RouteEndpoint { RoutePattern.RawText: string route } ? route : "other";
            _requests.WithLabels(path, context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
        }
    }

    private async Task Checked(HttpContext context, RequestDelegate next)
    {
        try
        {
            if (_options.ApiKey is string key && context.Request.Path.StartsWithSegments("/v1")
                && context.Request.Headers.Authorization.ToString() != "Bearer " + key)
            {
                throw new ApiError(401, "Missing or wrong API key (Authorization: Bearer KEY)", code: "invalid_api_key");
            }

            await next(context).ConfigureAwait(false);
        }
        catch (ApiError e)
        {
            await WriteError(context, e).ConfigureAwait(false);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            await WriteError(context, new ApiError(e.StatusCode, e.Message)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (ArgumentException e)
        {
            await WriteError(context, ApiError.Invalid(e.Message)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await WriteError(context, new ApiError(500, $"{e.GetType().Name}: {e.Message}")).ConfigureAwait(false);
        }
    }

    private static async Task WriteError(HttpContext context, ApiError e)
    {
        if (context.Response.HasStarted)
        {
            // Mid-stream: an SSE error event, as OpenAI-compatible servers send, then the stream ends.
            await context.Response.WriteAsync($"data: {ErrorJson(e)}\n\n").ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = e.Status;
        if (e.Status == 503)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(ErrorJson(e)).ConfigureAwait(false);
    }

    private static string ErrorJson(ApiError e) => new JsonObject
    {
        ["error"] = new JsonObject { ["message"] = e.Message, ["type"] = e.Type, ["param"] = e.Param, ["code"] = e.Code },
    }.ToJsonString(s_json);

    private async Task MetricsText(HttpContext context)
    {
        context.Response.ContentType = "text/plain; version=0.0.4";
        await _registry.CollectAndExportAsTextAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
    }

    private Task Health(HttpContext context)
    {
        bool ready = _engine is not null;
        context.Response.StatusCode = ready ? 200 : 503;
        return context.Response.WriteAsJsonAsync(new JsonObject { ["status"] = ready ? "ok" : "loading" });
    }

    private Task Models(HttpContext context) => Json(context, new JsonObject
    {
        ["object"] = "list",
        ["data"] = new JsonArray(new JsonObject
        {
            ["id"] = _options.ModelId, ["object"] = "model", ["created"] = 0, ["owned_by"] = "hunyuan.vk",
            ["context_length"] = _engine?.ContextLength,
        }),
    });

    private static Task Json(HttpContext context, JsonNode body)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(body.ToJsonString(s_json));
    }

    private async Task ChatCompletions(HttpContext context)
    {
        HunyuanEngine engine = _engine ?? throw new ApiError(503, "The model is still loading");
        ChatRequest request = ChatRequest.Parse(await ReadJson(context).ConfigureAwait(false));
        List<int> prompt;
        try
        {
            prompt = engine.EncodeChat(request.Messages, request.Options.Thinking, request.Options.Tools);
        }
        catch (ArgumentException e)
        {
            throw ApiError.Invalid(e.Message, "messages");
        }

        await GenerateAsync(context, engine, prompt, "messages", request.Options, request.Stream, request.IncludeUsage, new ChatReply(_options.ModelId),
            (p, o, ct) => engine.ChatAsync(p, o, ct)).ConfigureAwait(false);
    }

    private async Task Completions(HttpContext context)
    {
        HunyuanEngine engine = _engine ?? throw new ApiError(503, "The model is still loading");
        CompletionRequest request = CompletionRequest.Parse(await ReadJson(context).ConfigureAwait(false));
        await GenerateAsync(context, engine, request.Encode(engine), "prompt", request.Options, request.Stream, request.IncludeUsage, new TextReply(_options.ModelId),
            (p, o, ct) => engine.GenerateAsync(p, o, ct)).ConfigureAwait(false);
    }

    private static async Task<JsonNode?> ReadJson(HttpContext context)
    {
        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);
        return RequestFields.ParseBody(body.GetBuffer().AsSpan(0, (int)body.Length));
    }

    // The prompt's length checked, a place in the queue, then the reply whole or streamed.
    private async Task GenerateAsync(HttpContext context, HunyuanEngine engine, List<int> prompt, string promptField, GenerateOptions options, bool stream,
        bool includeUsage, Reply reply, Func<IReadOnlyList<int>, GenerateOptions, CancellationToken, IAsyncEnumerable<GenerationUpdate>> generate)
    {
        if (prompt.Count + 1 > engine.ContextLength)
        {
            throw new ApiError(400, $"The prompt has {prompt.Count} tokens; the context holds {engine.ContextLength}", promptField, "context_length_exceeded");
        }

        await AdmitAsync(context.RequestAborted).ConfigureAwait(false);
        var stats = new GenerationStats();
        try
        {
            IAsyncEnumerable<GenerationUpdate> updates = generate(prompt, options with { Stats = stats }, context.RequestAborted);
            if (stream)
            {
                await StreamAsync(context, reply, updates, stats, includeUsage).ConfigureAwait(false);
            }
            else
            {
                await foreach (GenerationUpdate u in updates.ConfigureAwait(false))
                {
                    reply.Add(u);
                }

                await Json(context, reply.Whole(stats)).ConfigureAwait(false);
            }
        }
        finally
        {
            _device.Release();
            Interlocked.Decrement(ref _admitted);
            _promptTokens.Inc(stats.PromptTokens + stats.CachedPromptTokens);
            _cachedTokens.Inc(stats.CachedPromptTokens);
            _generatedTokens.Inc(stats.GeneratedTokens);
            if (stats.GeneratedTokens > 1)
            {
                _decodeRate.Set(stats.DecodeTokensPerSecond);
            }
        }
    }

    // One generating and up to Queue waiting; the rest are told to come back. The wait is here, async, rather than
    // in the engine's own lock, which blocks its caller's thread: queued requests hold no thread-pool threads.
    private async Task AdmitAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Increment(ref _admitted) > _options.Queue + 1)
        {
            Interlocked.Decrement(ref _admitted);
            throw new ApiError(503, $"The server is busy: {_options.Queue} requests are waiting already; retry later", code: "queue_full");
        }

        _queued.Inc();
        try
        {
            await _device.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Interlocked.Decrement(ref _admitted);
            throw;
        }
        finally
        {
            _queued.Dec();
        }
    }

    private static async Task StreamAsync(HttpContext context, Reply reply, IAsyncEnumerable<GenerationUpdate> updates, GenerationStats stats, bool includeUsage)
    {
        HttpResponse response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        await using IAsyncEnumerator<GenerationUpdate> e = updates.GetAsyncEnumerator(context.RequestAborted);
        // The first update is awaited before the headers go out: a refusal that only generation finds (a scripted
        // reply outside the vocabulary, say) is still a plain error response.
        bool any = await e.MoveNextAsync().ConfigureAwait(false);
        if (reply.Opening() is JsonObject opening)
        {
            await Send(response, opening).ConfigureAwait(false);
        }

        for (; any; any = await e.MoveNextAsync().ConfigureAwait(false))
        {
            foreach (JsonObject chunk in reply.Chunks(e.Current))
            {
                await Send(response, chunk).ConfigureAwait(false);
            }
        }

        await Send(response, reply.Closing(Reply.FinishReason(stats))).ConfigureAwait(false);
        if (includeUsage)
        {
            JsonObject last = reply.Envelope(reply.ChunkKind);
            last["choices"] = new JsonArray();
            last["usage"] = Reply.Usage(stats);
            await Send(response, last).ConfigureAwait(false);
        }

        await response.WriteAsync("data: [DONE]\n\n").ConfigureAwait(false);
    }

    private static async Task Send(HttpResponse response, JsonObject chunk)
    {
        await response.WriteAsync("data: " + chunk.ToJsonString(s_json) + "\n\n").ConfigureAwait(false);
        await response.Body.FlushAsync().ConfigureAwait(false);
    }

    /// <summary>One reply as it builds, in an endpoint's shape: the whole response, or its stream's chunks.</summary>
    private abstract class Reply(string model, string idPrefix, string kind, string chunkKind)
    {
        private readonly string _id = idPrefix + Guid.NewGuid().ToString("N")[..24];
        private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

        public string ChunkKind => chunkKind;

        /// <summary>Collects an update for <see cref="Whole"/>.</summary>
        public abstract void Add(GenerationUpdate u);

        /// <summary>The stream's chunks for an update (collected too).</summary>
        public abstract IEnumerable<JsonObject> Chunks(GenerationUpdate u);

        /// <summary>The chunk before any update, if the shape has one.</summary>
        public virtual JsonObject? Opening() => null;

        public abstract JsonObject Closing(string finish);

        /// <summary>The whole response: a choice and the usage.</summary>
        public JsonObject Whole(GenerationStats stats)
        {
            JsonObject whole = Envelope(kind);
            whole["choices"] = new JsonArray(Choice(FinishReason(stats)));
            whole["usage"] = Usage(stats);
            return whole;
        }

        protected abstract JsonObject Choice(string finish);

        public JsonObject Envelope(string objectKind) => new() { ["id"] = _id, ["object"] = objectKind, ["created"] = _created, ["model"] = model };

        protected JsonObject Chunk(JsonObject choice)
        {
            JsonObject chunk = Envelope(chunkKind);
            chunk["choices"] = new JsonArray(choice);
            return chunk;
        }

        public static string FinishReason(GenerationStats stats) => stats.FinishReason switch
        {
            Generation.FinishReason.Length or Generation.FinishReason.ContextFull => "length",   // OpenAI's word for both
            Generation.FinishReason.ToolCalls => "tool_calls",
            _ => "stop",
        };

        public static JsonObject Usage(GenerationStats stats)
        {
            int prompt = stats.PromptTokens + stats.CachedPromptTokens;
            return new JsonObject
            {
                ["prompt_tokens"] = prompt, ["completion_tokens"] = stats.GeneratedTokens, ["total_tokens"] = prompt + stats.GeneratedTokens,
                ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = stats.CachedPromptTokens },
            };
        }
    }

    /// <summary>/v1/chat/completions: content, reasoning_content and tool_calls.</summary>
    private sealed class ChatReply(string model) : Reply(model, "chatcmpl-", "chat.completion", "chat.completion.chunk")
    {
        private readonly StringBuilder _content = new(), _reasoning = new();
        private readonly List<ToolCall> _calls = [];

        public override void Add(GenerationUpdate u)
        {
            switch (u.Part)
            {
                case ReplyPart.Reasoning:
                    _reasoning.Append(u.Text);
                    break;
                case ReplyPart.ToolCall:
                    _calls.Add(u.Call!);
                    break;
                default:
                    _content.Append(u.Text);
                    break;
            }
        }

        /// <summary>Text as a content or reasoning delta; a call as its id and name, then its arguments.</summary>
        public override IEnumerable<JsonObject> Chunks(GenerationUpdate u)
        {
            Add(u);
            if (u.Part != ReplyPart.ToolCall)
            {
                yield return Delta(new JsonObject { [u.Part == ReplyPart.Reasoning ? "reasoning_content" : "content"] = u.Text });
                yield break;
            }

            int index = _calls.Count - 1;
            yield return Delta(new JsonObject
            {
                ["tool_calls"] = new JsonArray(new JsonObject
                {
                    ["index"] = index, ["id"] = u.Call!.Id, ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = u.Call.Name, ["arguments"] = "" },
                }),
            });
            yield return Delta(new JsonObject
            {
                ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = index, ["function"] = new JsonObject { ["arguments"] = Arguments(u.Call) } }),
            });
        }

        public override JsonObject Opening() => Delta(new JsonObject { ["role"] = "assistant", ["content"] = "" });

        public override JsonObject Closing(string finish) => Delta([], finish);

        protected override JsonObject Choice(string finish)
        {
            var message = new JsonObject { ["role"] = "assistant", ["content"] = _calls.Count > 0 && _content.Length == 0 ? null : _content.ToString() };
            if (_reasoning.Length > 0)
            {
                message["reasoning_content"] = _reasoning.ToString();
            }

            if (_calls.Count > 0)
            {
                message["tool_calls"] = new JsonArray([.. _calls.Select(c => (JsonNode)new JsonObject
                {
                    ["id"] = c.Id, ["type"] = "function", ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = Arguments(c) },
                })]);
            }

            return new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = finish };
        }

        private JsonObject Delta(JsonObject delta, string? finish = null) => Chunk(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish });

        private static string Arguments(ToolCall c) => c.Arguments?.ToJsonString(s_json) ?? "{}";
    }

    /// <summary>/v1/completions: the continuation's text.</summary>
    private sealed class TextReply(string model) : Reply(model, "cmpl-", "text_completion", "text_completion")
    {
        private readonly StringBuilder _text = new();

        public override void Add(GenerationUpdate u) => _text.Append(u.Text);

        public override IEnumerable<JsonObject> Chunks(GenerationUpdate u)
        {
            Add(u);
            yield return Chunk(Text(u.Text, null));
        }

        public override JsonObject Closing(string finish) => Chunk(Text(string.Empty, finish));

        protected override JsonObject Choice(string finish) => Text(_text.ToString(), finish);

        private static JsonObject Text(string text, string? finish) =>
            new() { ["index"] = 0, ["text"] = text, ["logprobs"] = null, ["finish_reason"] = finish };
    }
}
