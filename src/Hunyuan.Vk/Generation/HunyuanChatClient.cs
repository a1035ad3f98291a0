using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using Hunyuan.Vk.Text;
using AiMessage = Microsoft.Extensions.AI.ChatMessage;
using AiRole = Microsoft.Extensions.AI.ChatRole;

namespace Hunyuan.Vk.Generation;

/// <summary>
/// <see cref="IChatClient"/> over a <see cref="HunyuanEngine"/>: messages map to the chat template's roles, options to
/// sampling (Temperature, TopK, TopP, MaxOutputTokens, Seed; AdditionalProperties "thinking" = false for fast
/// thinking); the answer streams as text and the reasoning as <see cref="TextReasoningContent"/>.
/// </summary>
public sealed class HunyuanChatClient(HunyuanEngine engine) : IChatClient
{
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
        List<Text.ChatMessage> conversation = [.. messages.Select(ToTemplate)];
        bool thinking = options?.AdditionalProperties?.TryGetValue("thinking", out object? t) != true || t is not false;
        var generate = new GenerateOptions
        {
            MaxTokens = options?.MaxOutputTokens ?? 512,
            Thinking = thinking,
            Temperature = options?.Temperature,
            TopK = options?.TopK,
            TopP = options?.TopP,
            Seed = (int)(options?.Seed ?? 0),
        };
        string id = Guid.NewGuid().ToString("N");
        await foreach (GenerationUpdate u in engine.ChatAsync(conversation, generate, cancellationToken).ConfigureAwait(false))
        {
            AIContent content = u.Part == ReplyPart.Reasoning ? new TextReasoningContent(u.Text) : new TextContent(u.Text);
            yield return new ChatResponseUpdate(AiRole.Assistant, [content]) { ResponseId = id, ModelId = "hunyuan-a13b" };
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this
            : serviceKey is null && serviceType == typeof(HunyuanEngine) ? engine
            : null;
    }

    public void Dispose()
    {
        // The engine belongs to whoever loaded it.
    }

    private static Text.ChatMessage ToTemplate(AiMessage m)
    {
        Text.ChatRole role = m.Role == AiRole.System ? Text.ChatRole.System
            : m.Role == AiRole.Assistant ? Text.ChatRole.Assistant
            : m.Role == AiRole.Tool ? Text.ChatRole.Tool
            : Text.ChatRole.User;
        return new Text.ChatMessage(role, m.Text);
    }
}
