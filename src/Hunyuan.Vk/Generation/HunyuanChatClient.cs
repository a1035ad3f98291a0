using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using Hunyuan.Vk.Text;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;
using AiRole = Microsoft.Extensions.AI.ChatRole;

namespace Hunyuan.Vk.Generation;

/// <summary>
/// <see cref="IChatClient"/> over a <see cref="HunyuanEngine"/>. Messages map to the chat template's roles: an
/// assistant's <see cref="FunctionCallContent"/> renders as its tool calls, a <see cref="FunctionResultContent"/> as a
/// tool message. Options: Temperature, TopK, TopP, MaxOutputTokens, Seed, StopSequences; Tools (each
/// <see cref="AIFunctionDeclaration"/> becomes a function in the template's tool prompt) with ToolMode None (no tools
/// rendered), Auto, or Required (rendered as Auto: the template has no way to force a call, so the model may still
/// answer in text); Reasoning.Effort None (or AdditionalProperties "thinking" = false) for fast thinking. The reply
/// streams its answer as text, its reasoning as <see cref="TextReasoningContent"/>, each tool call as one
/// <see cref="FunctionCallContent"/>, and ends with <see cref="UsageContent"/> and a finish reason.
/// </summary>
public sealed class HunyuanChatClient(HunyuanEngine engine) : IChatClient
{
    private const string ModelId = "hunyuan-a13b";

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<AiMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
        {
            updates.Add(u);
        }

        ChatResponse response = updates.ToChatResponse();
        if (response.Messages.Count == 0)
        {
            response.Messages.Add(new AiMessage(AiRole.Assistant, string.Empty));   // the model ended at once: an empty reply
        }

        return response;
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<AiMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        List<Text.ChatMessage> conversation = [.. messages.SelectMany(ToTemplate)];
        if (options?.Instructions is { Length: > 0 } instructions)
        {
            conversation.Insert(0, Text.ChatMessage.System(instructions));
        }

        var stats = new GenerationStats();
        GenerateOptions generate = ToGenerateOptions(options) with { Stats = stats };
        string id = Guid.NewGuid().ToString("N");
        await foreach (GenerationUpdate u in engine.ChatAsync(conversation, generate, cancellationToken).ConfigureAwait(false))
        {
            AIContent content = u.Part switch
            {
                ReplyPart.Reasoning => new TextReasoningContent(u.Text),
                ReplyPart.ToolCall => new FunctionCallContent(u.Call!.Id!, u.Call.Name, Arguments(u.Call.Arguments)),
                _ => new TextContent(u.Text),
            };
            yield return new ChatResponseUpdate(AiRole.Assistant, [content]) { ResponseId = id, ModelId = ModelId };
        }

        var usage = new UsageDetails
        {
            InputTokenCount = stats.PromptTokens + stats.CachedPromptTokens,
            CachedInputTokenCount = stats.CachedPromptTokens,
            OutputTokenCount = stats.GeneratedTokens,
            TotalTokenCount = stats.PromptTokens + stats.CachedPromptTokens + stats.GeneratedTokens,
        };
        yield return new ChatResponseUpdate(AiRole.Assistant, [new UsageContent(usage)])
        {
            ResponseId = id,
            ModelId = ModelId,
            FinishReason = stats.FinishReason switch
            {
                FinishReason.Length or FinishReason.ContextFull => ChatFinishReason.Length,
                FinishReason.ToolCalls => ChatFinishReason.ToolCalls,
                _ => ChatFinishReason.Stop,
            },
        };
    }

    /// <summary>The engine's options for <paramref name="options"/> (see the class summary).</summary>
    public static GenerateOptions ToGenerateOptions(ChatOptions? options)
    {
        bool thinking = options?.Reasoning?.Effort != ReasoningEffort.None
            && (options?.AdditionalProperties?.TryGetValue("thinking", out object? t) != true || t is not false);
        return new GenerateOptions
        {
            MaxTokens = options?.MaxOutputTokens ?? 512,
            Thinking = thinking,
            Temperature = options?.Temperature,
            TopK = options?.TopK,
            TopP = options?.TopP,
            Seed = (int)(options?.Seed ?? 0),
            StopSequences = options?.StopSequences is { Count: > 0 } stops ? [.. stops] : null,
            Tools = options?.ToolMode is NoneChatToolMode ? null : Tools(options?.Tools),
        };
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this
            : serviceKey is null && serviceType == typeof(HunyuanEngine) ? engine
            : serviceKey is null && serviceType == typeof(ChatClientMetadata) ? new ChatClientMetadata("hunyuan.vk", defaultModelId: ModelId)
            : null;
    }

    public void Dispose()
    {
        // The engine belongs to whoever loaded it.
    }

    // OpenAI-style function tools from the declarations (other tool kinds have no place in the template).
    private static List<JsonNode>? Tools(IList<AITool>? tools)
    {
        List<JsonNode> functions = [.. (tools ?? []).OfType<AIFunctionDeclaration>().Select(f => (JsonNode)new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject
            {
                ["name"] = f.Name,
                ["description"] = f.Description,
                ["parameters"] = JsonNode.Parse(f.JsonSchema.GetRawText()),
            },
        })];
        return functions.Count > 0 ? functions : null;
    }

    private static Dictionary<string, object?>? Arguments(JsonNode? arguments) =>
        arguments is JsonObject o ? o.ToDictionary(p => p.Key, p => (object?)(p.Value is null ? null : JsonSerializer.SerializeToElement(p.Value))) : null;

    // One AI message may hold text, calls and results together; the template has one kind per message.
    private static IEnumerable<Text.ChatMessage> ToTemplate(AiMessage m)
    {
        if (m.Role == AiRole.Assistant && m.Contents.OfType<FunctionCallContent>().ToList() is { Count: > 0 } calls)
        {
            yield return new Text.ChatMessage(Text.ChatRole.Assistant, m.Text)
            {
                ToolCalls = [.. calls.Select(c => new ToolCall(c.Name, c.Arguments is null ? new JsonObject() : JsonSerializer.SerializeToNode(c.Arguments)) { Id = c.CallId })],
            };
            yield break;
        }

        List<FunctionResultContent> results = [.. m.Contents.OfType<FunctionResultContent>()];
        if (results.Count > 0)
        {
            foreach (FunctionResultContent r in results)
            {
                yield return Text.ChatMessage.Tool(r.Result switch
                {
                    null => string.Empty,
                    string s => s,
                    JsonElement e when e.ValueKind == JsonValueKind.String => e.GetString()!,
                    _ => JsonSerializer.Serialize(r.Result),
                });
            }

            yield break;
        }

        Text.ChatRole role = m.Role == AiRole.System ? Text.ChatRole.System
            : m.Role == AiRole.Assistant ? Text.ChatRole.Assistant
            : m.Role == AiRole.Tool ? Text.ChatRole.Tool
            : Text.ChatRole.User;
        yield return new Text.ChatMessage(role, m.Text);
    }
}
