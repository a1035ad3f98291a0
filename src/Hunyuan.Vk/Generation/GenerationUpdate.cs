using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Generation;

/// <summary>A piece of the reply as it streams: reasoning or answer text, or (<see cref="ReplyPart.ToolCall"/>) a
/// whole tool call in <see cref="Call"/>, with its arguments' JSON as the text.</summary>
public sealed record GenerationUpdate(ReplyPart Part, string Text)
{
    public ToolCall? Call { get; init; }
}
