namespace Hunyuan.Vk.Server;

/// <summary>What <c>hyvk serve</c> listens on and how it queues.</summary>
public sealed record ServeOptions
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
