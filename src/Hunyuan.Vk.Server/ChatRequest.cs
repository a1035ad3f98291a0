using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Text;
using static Hunyuan.Vk.Server.RequestFields;

namespace Hunyuan.Vk.Server;

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
        List<JsonNode>? tools = toolChoice == "none" ? null : ParseTools(o["tools"]);
        (GenerateOptions common, bool stream, bool usage) = Common(o, defaultMaxTokens: 512);
        GenerateOptions options = common with
        {
            Thinking = thinking,
            ThinkBudget = Int(o, "thinking_budget") is int b ? (b >= 0 ? b : throw ApiError.Invalid("thinking_budget must be 0 or more", "thinking_budget")) : null,
            Tools = tools,
        };
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

    /// <summary>An OpenAI <c>tools</c> array, each a function with a name (also <c>hyvk generate --tools</c>).</summary>
    public static List<JsonNode>? ParseTools(JsonNode? node)
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
}
