using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;

namespace Hunyuan.Vk.Server;

/// <summary>One reply as it builds, in an endpoint's shape: the whole response, or its stream's chunks.</summary>
internal abstract class Reply(string model, string idPrefix, string kind, string chunkKind)
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
