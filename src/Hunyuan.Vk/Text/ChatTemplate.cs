using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

namespace Hunyuan.Vk.Text;

/// <summary>Options of <see cref="ChatTemplate.Render"/>.</summary>
public sealed record ChatTemplateOptions
{
    /// <summary>Slow thinking (the default): the model reasons in &lt;think&gt; first. False appends an empty think block.</summary>
    public bool Thinking { get; init; } = true;

    /// <summary>Function tools (OpenAI style: <c>{"type": "function", "function": {...}}</c>); null or empty: no tool prompt.</summary>
    public IReadOnlyList<JsonNode>? Tools { get; init; }

    /// <summary>The time written into the tool prompt; null takes the local time now.</summary>
    public DateTime? Now { get; init; }
}

/// <summary>
/// Hunyuan-A13B's chat template (docs/model.md 6), rendered as text with special tokens (encode it with special tokens
/// allowed). Without tools:
/// <code>
/// &lt;|startoftext|&gt;SYSTEM&lt;|extra_4|&gt;USER&lt;|extra_0|&gt;ASSISTANT&lt;|eos|&gt;&lt;|startoftext|&gt;USER&lt;|extra_0|&gt;
/// </code>
/// (the first user message right after a system message has no &lt;|startoftext|&gt;; a tool result is CONTENT&lt;|extra_0|&gt;).
/// With tools, the first turn is a fixed Chinese function-calling prompt with the tools' JSON and the time, then user
/// turns are 用户：TEXT&lt;|extra_0|&gt;, assistant turns 助手：TEXT&lt;|eos|&gt; or &lt;tool_calls&gt;[...]&lt;/tool_calls&gt;&lt;|eos|&gt;,
/// tool results &lt;tool_response&gt;CONTENT&lt;/tool_response&gt;&lt;|extra_0|&gt;. Fast thinking appends &lt;think&gt;\n\n&lt;/think&gt;\n.
/// Generation starts right after the last token: there is no assistant header.
/// </summary>
public static class ChatTemplate
{
    public const string StartOfText = "<|startoftext|>";
    public const string EndOfSystem = "<|extra_4|>";
    public const string EndOfTurn = "<|extra_0|>";
    public const string EndOfAssistant = "<|eos|>";
    public const string EmptyThought = "<think>\n\n</think>\n";

    public static string Render(IReadOnlyList<ChatMessage> messages, ChatTemplateOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        options ??= new ChatTemplateOptions();
        for (int i = 1; i < messages.Count; i++)
        {
            if (messages[i].Role == ChatRole.System)
            {
                throw new ArgumentException($"Message {i} is a system message; only the first message may be one");
            }
        }

        string body = options.Tools is { Count: > 0 } tools
            ? RenderWithTools(messages, tools, options.Now ?? DateTime.Now)
            : RenderPlain(messages);
        return options.Thinking ? body : body + EmptyThought;
    }

    private static string RenderPlain(IReadOnlyList<ChatMessage> messages)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < messages.Count; i++)
        {
            ChatMessage m = messages[i];
            switch (m.Role)
            {
                case ChatRole.System:
                    // As the official template: an empty system message leaves only its <|startoftext|>.
                    sb.Append(StartOfText).Append(m.Content);
                    if (m.Content.Length > 0)
                    {
                        sb.Append(EndOfSystem);
                    }

                    break;
                case ChatRole.User:
                    bool afterSystem = i == 1 && messages[0].Role == ChatRole.System && messages[0].Content.Length > 0;
                    sb.Append(afterSystem ? string.Empty : StartOfText).Append(m.Content).Append(EndOfTurn);
                    break;
                case ChatRole.Assistant:
                    sb.Append(m.ToolCalls is { Count: > 0 } calls ? ToolCallsText(calls) : m.Content).Append(EndOfAssistant);
                    break;
                case ChatRole.Tool:
                    sb.Append(m.Content).Append(EndOfTurn);
                    break;
            }
        }

        return sb.ToString();
    }

    private static string RenderWithTools(IReadOnlyList<ChatMessage> messages, IReadOnlyList<JsonNode> tools, DateTime now)
    {
        string toolsJson = PythonJson.Serialize(new JsonArray(tools.Select(t => t.DeepClone()).ToArray()));
        string time = now.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) + " " + ChineseWeekday(now.DayOfWeek);
        bool hasSystem = messages.Count > 0 && messages[0].Role == ChatRole.System;
        var sb = new StringBuilder(StartOfText);
        sb.Append(ToolPrompt.Header).Append("\n\n").Append(toolsJson).Append("\n\n");
        if (hasSystem)
        {
            sb.Append(ToolPrompt.ExtraRequirements).Append(messages[0].Content).Append("\n\n")
              .Append(ToolPrompt.FormatReminderWithExtra).Append(ToolPrompt.TimeWithExtra).Append(time);
        }
        else
        {
            sb.Append(ToolPrompt.FormatReminder).Append(ToolPrompt.Time).Append(time);
        }

        sb.Append(EndOfSystem);
        foreach (ChatMessage m in messages.Skip(hasSystem ? 1 : 0))
        {
            switch (m.Role)
            {
                case ChatRole.User:
                    sb.Append(ToolPrompt.UserPrefix).Append(m.Content).Append(EndOfTurn);
                    break;
                case ChatRole.Assistant:
                    sb.Append(m.ToolCalls is { Count: > 0 } calls ? ToolCallsText(calls) : ToolPrompt.AssistantPrefix + m.Content).Append(EndOfAssistant);
                    break;
                case ChatRole.Tool:
                    sb.Append("<tool_response>").Append(m.Content).Append("</tool_response>").Append(EndOfTurn);
                    break;
            }
        }

        return sb.ToString();
    }

    /// <summary>&lt;tool_calls&gt;[{"name": ..., "arguments": {...}}, ...]&lt;/tool_calls&gt;</summary>
    public static string ToolCallsText(IReadOnlyList<ToolCall> calls)
    {
        ArgumentNullException.ThrowIfNull(calls);
        var list = new JsonArray(calls.Select(c => (JsonNode)new JsonObject { ["name"] = c.Name, ["arguments"] = c.Arguments?.DeepClone() }).ToArray());
        return "<tool_calls>" + PythonJson.Serialize(list) + "</tool_calls>";
    }

    private static string ChineseWeekday(DayOfWeek day) => day switch
    {
        DayOfWeek.Monday => "星期一",
        DayOfWeek.Tuesday => "星期二",
        DayOfWeek.Wednesday => "星期三",
        DayOfWeek.Thursday => "星期四",
        DayOfWeek.Friday => "星期五",
        DayOfWeek.Saturday => "星期六",
        _ => "星期日",
    };
}
