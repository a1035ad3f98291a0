using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Cli.Serve;

/// <summary>
/// A <c>POST /v1/chat/completions</c> body, checked field by field: every wrong type, unknown role or unsupported value
/// is an <see cref="ApiError"/> naming the field (400), never an exception from deeper down.
/// </summary>
internal sealed record ChatRequest(List<ChatMessage> Messages, GenerateOptions Options, bool Stream, bool IncludeUsage)
{
    public static ChatRequest Parse(JsonNode? body)
    {
        if (body is not JsonObject o)
        {
            throw ApiError.Invalid("The request body must be a JSON object");
        }

        if (Int(o, "n") is int n && n != 1)
        {
            throw ApiError.Invalid($"n = {n}: this server generates one choice per request", "n");
        }

        List<ChatMessage> messages = ParseMessages(o["messages"]);
        bool thinking = Bool(o["chat_template_kwargs"] is JsonObject kw ? kw : [], "enable_thinking") ?? true;
        if (Str(o, "reasoning_effort") is string effort)
        {
            thinking &= effort != "none";
        }

        if (messages.LastOrDefault(m => m.Role == ChatRole.User) is { } lastUser && lastUser.Content.TrimStart().StartsWith("/no_think", StringComparison.Ordinal))
        {
            thinking = false;   // the model card's prompt switch; the text stays as written
        }

        string toolChoice = o["tool_choice"] switch
        {
            null => "auto",
            JsonValue v when v.TryGetValue(out string? s) && s is "none" or "auto" => s!,
            _ => throw ApiError.Invalid("tool_choice: this server takes \"none\" or \"auto\"", "tool_choice"),
        };
        List<JsonNode>? tools = toolChoice == "none" ? null : Tools(o["tools"]);
        int? maxTokens = Int(o, "max_completion_tokens") ?? Int(o, "max_tokens");
        if (maxTokens is < 1)
        {
            throw ApiError.Invalid($"max_tokens = {maxTokens}: at least 1", "max_tokens");
        }

        var options = new GenerateOptions
        {
            MaxTokens = maxTokens ?? 512,
            Thinking = thinking,
            Temperature = (float?)Number(o, "temperature", 0, 2),
            TopP = (float?)Number(o, "top_p", 0, 1),
            TopK = Int(o, "top_k") is int k ? (k >= 0 ? k : throw ApiError.Invalid("top_k must be 0 or more", "top_k")) : null,
            RepetitionPenalty = (float?)Number(o, "repetition_penalty", 0.01, 10),
            Seed = Int(o, "seed") ?? 0,
            ThinkBudget = Int(o, "thinking_budget") is int b ? (b >= 0 ? b : throw ApiError.Invalid("thinking_budget must be 0 or more", "thinking_budget")) : null,
            StopSequences = Stops(o["stop"]),
            Tools = tools,
        };
        bool stream = Bool(o, "stream") ?? false;
        bool usage = Bool(o["stream_options"] is JsonObject so ? so : [], "include_usage") ?? false;
        return new ChatRequest(messages, options, stream, usage);
    }

    private static List<ChatMessage> ParseMessages(JsonNode? node)
    {
        if (node is not JsonArray array || array.Count == 0)
        {
            throw ApiError.Invalid("messages must be a non-empty array", "messages");
        }

        var messages = new List<ChatMessage>();
        for (int i = 0; i < array.Count; i++)
        {
            string at = $"messages[{i}]";
            if (array[i] is not JsonObject m)
            {
                throw ApiError.Invalid($"{at} must be an object", at);
            }

            string role = Str(m, "role", at) ?? throw ApiError.Invalid($"{at}.role is missing", $"{at}.role");
            ChatRole r = role switch
            {
                "system" or "developer" => ChatRole.System,
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                "tool" => ChatRole.Tool,
                _ => throw ApiError.Invalid($"{at}.role '{role}' is not one of system, developer, user, assistant, tool", $"{at}.role"),
            };
            if (r == ChatRole.System && i > 0)
            {
                throw ApiError.Invalid($"{at} is a system message; only the first message may be one", $"{at}.role");
            }

            string content = Content(m["content"], $"{at}.content");
            List<ToolCall>? calls = r == ChatRole.Assistant ? Calls(m["tool_calls"], $"{at}.tool_calls") : null;
            messages.Add(new ChatMessage(r, content) { ToolCalls = calls });
        }

        return messages;
    }

    // A string, null, or text parts [{"type": "text", "text": ...}].
    private static string Content(JsonNode? node, string at)
    {
        switch (node)
        {
            case null:
                return string.Empty;
            case JsonValue v when v.TryGetValue(out string? s):
                return s;
            case JsonArray parts:
                var text = new System.Text.StringBuilder();
                for (int i = 0; i < parts.Count; i++)
                {
                    if (parts[i] is not JsonObject p || Str(p, "type", $"{at}[{i}]") != "text" || Str(p, "text", $"{at}[{i}]") is not string t)
                    {
                        throw ApiError.Invalid($"{at}[{i}] must be a text part {{\"type\": \"text\", \"text\": ...}} (this model reads text only)", $"{at}[{i}]");
                    }

                    text.Append(t);
                }

                return text.ToString();
            default:
                throw ApiError.Invalid($"{at} must be a string or an array of text parts", at);
        }
    }

    private static List<ToolCall>? Calls(JsonNode? node, string at)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonArray array)
        {
            throw ApiError.Invalid($"{at} must be an array", at);
        }

        var calls = new List<ToolCall>();
        for (int i = 0; i < array.Count; i++)
        {
            string c = $"{at}[{i}]";
            if (array[i] is not JsonObject call || call["function"] is not JsonObject f || Str(f, "name", $"{c}.function") is not string name)
            {
                throw ApiError.Invalid($"{c} must be {{\"type\": \"function\", \"function\": {{\"name\", \"arguments\"}}}}", c);
            }

            JsonNode? arguments;
            try
            {
                arguments = Str(f, "arguments", $"{c}.function") is string a && a.Length > 0 ? JsonNode.Parse(a) : new JsonObject();
            }
            catch (JsonException e)
            {
                throw ApiError.Invalid($"{c}.function.arguments is not JSON: {e.Message}", $"{c}.function.arguments");
            }

            calls.Add(new ToolCall(name, arguments) { Id = Str(call, "id", c) });
        }

        return calls;
    }

    private static List<JsonNode>? Tools(JsonNode? node)
    {
        if (node is null)
        {
            return null;
        }

        if (node is not JsonArray array)
        {
            throw ApiError.Invalid("tools must be an array", "tools");
        }

        for (int i = 0; i < array.Count; i++)
        {
            if (array[i] is not JsonObject t || Str(t, "type", $"tools[{i}]") != "function" || t["function"] is not JsonObject f || Str(f, "name", $"tools[{i}].function") is null)
            {
                throw ApiError.Invalid($"tools[{i}] must be {{\"type\": \"function\", \"function\": {{\"name\", ...}}}}", $"tools[{i}]");
            }
        }

        return array.Count == 0 ? null : [.. array.Select(t => t!.DeepClone())];
    }

    private static List<string>? Stops(JsonNode? node) => node switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => [s],
        JsonArray a when a.Count <= 4 && a.All(x => x is JsonValue xv && xv.TryGetValue(out string? _)) => [.. a.Select(x => x!.GetValue<string>())],
        _ => throw ApiError.Invalid("stop must be a string or an array of up to 4 strings", "stop"),
    };

    private static string? Str(JsonObject o, string name, string? at = null) => o[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out string? s) => s,
        _ => throw ApiError.Invalid($"{Field(at, name)} must be a string", Field(at, name)),
    };

    private static bool? Bool(JsonObject o, string name) => o[name] switch
    {
        null => null,
        JsonValue v when v.TryGetValue(out bool b) => b,
        _ => throw ApiError.Invalid($"{name} must be true or false", name),
    };

    private static int? Int(JsonObject o, string name) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue => (int)d,
        _ => throw ApiError.Invalid($"{name} must be an integer", name),
    };

    private static double? Number(JsonObject o, string name, double min, double max) => o[name] switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.Number && v.TryGetValue(out double d) =>
            d >= min && d <= max ? d : throw ApiError.Invalid($"{name} = {d}: from {min} to {max}", name),
        _ => throw ApiError.Invalid($"{name} must be a number", name),
    };

    private static string Field(string? at, string name) => at is null ? name : $"{at}.{name}";
}
