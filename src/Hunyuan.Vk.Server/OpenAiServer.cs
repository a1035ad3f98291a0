using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Hunyuan.Vk.Server;

/// <summary>
/// An OpenAI-compatible HTTP server over one <see cref="HunyuanEngine"/> on Kestrel: <c>POST /v1/chat/completions</c>
/// (JSON or server-sent events), <c>POST /v1/completions</c> (raw prompt text or ids), <c>GET /v1/models</c>, <c>GET /health</c> (503 until the engine is set), <c>GET /metrics</c> (Prometheus text). One
/// generation runs at a time on the device; others wait in a bounded queue. Errors are OpenAI's shape, never a stack
/// trace; a client that goes away cancels its generation (the request's abort token reaches the engine, which stops
/// before its next token).
/// </summary>
public sealed partial class OpenAiServer : IAsyncDisposable
{
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
        return context.Response.WriteAsync(body.ToJsonString(ServerJson.Options));
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
}
