using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;

namespace Hunyuan.Vk.Server;

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
            TopP = Number(o, "top_p", 0, 1) is double p ? (p > 0 ? (float)p : throw ApiError.Invalid("top_p = 0: above 0 and at most 1", "top_p")) : null,
            TopK = Int(o, "top_k") is int k ? (k is >= 0 and <= GenerateOptions.MaxTopK ? k
                : throw ApiError.Invalid($"top_k = {k}: from 1 to {GenerateOptions.MaxTopK} candidates, or 0 for all {GenerateOptions.MaxTopK} the sampler keeps", "top_k")) : null,
            RepetitionPenalty = (float?)Number(o, "repetition_penalty", 0.01, 10),
            Seed = Int(o, "seed") ?? 0,
            StopSequences = Stops(o["stop"]),
        };
        bool stream = Bool(o, "stream") ?? false;
        bool usage = Bool(o["stream_options"] is JsonObject so ? so : [], "include_usage") ?? false;
        return (options, stream, usage);
    }

    /// <summary>
    /// A request body as JSON, checked whole before any field is read: valid UTF-8, valid JSON, no key twice in an
    /// object, no string with a lone surrogate escape (\ud800). Each is a 400 saying so; left to the field reads, the
    /// last three would be exceptions from System.Text.Json deep in the handler (a 500, or a 400 with .NET's text).
    /// </summary>
    public static JsonNode? ParseBody(ReadOnlySpan<byte> body)
    {
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            throw ApiError.Invalid("The body is not valid UTF-8");
        }

        try
        {
            JsonNode? node = JsonNode.Parse(body, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
            Materialize(node);
            return node;
        }
        catch (JsonException e)
        {
            throw ApiError.Invalid($"The body is not valid JSON: {e.Message}");
        }
        catch (InvalidOperationException)
        {
            throw ApiError.Invalid("The body has a string that is not valid Unicode (a lone surrogate escape such as \\ud800)");
        }

        // Every string read once: System.Text.Json turns escapes into text only when a value is read.
        static void Materialize(JsonNode? node)
        {
            switch (node)
            {
                case JsonObject o:
                    foreach (KeyValuePair<string, JsonNode?> p in o)
                    {
                        Materialize(p.Value);
                    }

                    break;
                case JsonArray a:
                    foreach (JsonNode? x in a)
                    {
                        Materialize(x);
                    }

                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    _ = v.GetValue<string>();
                    break;
            }
        }
    }

    public static List<string>? Stops(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) && s.Length > 0 => [s],
        JsonArray a when a.Count <= 4 && a.All(x => x is JsonValue xv && xv.TryGetValue(out string? s) && s.Length > 0) => [.. a.Select(x => x!.GetValue<string>())],
        _ => throw ApiError.Invalid("stop must be a non-empty string or an array of up to 4 of them", "stop"),
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
