using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;

namespace Hunyuan.Vk.Cli.Serve;

/// <summary>Typed reads of request fields: a missing field is null, a wrong type an <see cref="ApiError"/> naming it.</summary>
internal static class RequestFields
{
    /// <summary>What chat and text completions share: <c>n</c> (1 only), sampling, limits, stop, <c>stream</c>.</summary>
    public static (GenerateOptions Options, bool Stream, bool IncludeUsage) Common(JsonObject o, int defaultMaxTokens)
    {
        if (Int(o, "n") is int n && n != 1)
        {
            throw ApiError.Invalid($"n = {n}: this server generates one choice per request", "n");
        }

        int? maxTokens = Int(o, "max_completion_tokens") ?? Int(o, "max_tokens");
        if (maxTokens is < 1)
        {
            throw ApiError.Invalid($"max_tokens = {maxTokens}: at least 1", "max_tokens");
        }

        var options = new GenerateOptions
        {
            MaxTokens = maxTokens ?? defaultMaxTokens,
            Temperature = (float?)Number(o, "temperature", 0, 2),
            TopP = (float?)Number(o, "top_p", 0, 1),
            TopK = Int(o, "top_k") is int k ? (k >= 0 ? k : throw ApiError.Invalid("top_k must be 0 or more", "top_k")) : null,
            RepetitionPenalty = (float?)Number(o, "repetition_penalty", 0.01, 10),
            Seed = Int(o, "seed") ?? 0,
            StopSequences = Stops(o["stop"]),
        };
        bool stream = Bool(o, "stream") ?? false;
        bool usage = Bool(o["stream_options"] is JsonObject so ? so : [], "include_usage") ?? false;
        return (options, stream, usage);
    }

    public static List<string>? Stops(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => [s],
        JsonArray a when a.Count <= 4 && a.All(x => x is JsonValue xv && xv.TryGetValue(out string? _)) => [.. a.Select(x => x!.GetValue<string>())],
        _ => throw ApiError.Invalid("stop must be a string or an array of up to 4 strings", "stop"),
    };

    public static string? Str(JsonObject o, string name, string? at = null) => o[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => throw ApiError.Invalid($"{Field(at, name)} must be a string", Field(at, name)),
    };

    public static bool? Bool(JsonObject o, string name) => o[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out bool b) => b,
        _ => throw ApiError.Invalid($"{name} must be true or false", name),
    };

    public static int? Int(JsonObject o, string name) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue => (int)d,
        _ => throw ApiError.Invalid($"{name} must be an integer", name),
    };

    public static double? Number(JsonObject o, string name, double min, double max) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d) =>
            d >= min && d <= max ? d : throw ApiError.Invalid($"{name} = {d}: from {min} to {max}", name),
        _ => throw ApiError.Invalid($"{name} must be a number", name),
    };

    public static string Field(string? at, string name) => at is null ? name : $"{at}.{name}";
}
