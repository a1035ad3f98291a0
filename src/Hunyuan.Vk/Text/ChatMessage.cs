using System.Text.Json.Nodes;

namespace Hunyuan.Vk.Text;

public enum ChatRole
{
    System,
    User,
    Assistant,
    Tool,
}

/// <summary>A function call the model asked for: a name and a JSON object of arguments.</summary>
public sealed record ToolCall(string Name, JsonNode? Arguments)
{
    /// <summary>The call's id (OpenAI's <c>call_...</c>): given when the engine reports the call; a tool result names it.
    /// The template does not render it.</summary>
    public string? Id { get; init; }
}

/// <summary>One message of a conversation. An assistant message may carry tool calls instead of text.</summary>
public sealed record ChatMessage(ChatRole Role, string Content)
{
    public IReadOnlyList<ToolCall>? ToolCalls { get; init; }

    public static ChatMessage System(string content) => new(ChatRole.System, content);

    public static ChatMessage User(string content) => new(ChatRole.User, content);

    public static ChatMessage Assistant(string content) => new(ChatRole.Assistant, content);

    public static ChatMessage Tool(string content) => new(ChatRole.Tool, content);
}
