namespace Hunyuan.Vk.Generation;

/// <summary>Why a generation ended.</summary>
public enum FinishReason
{
    /// <summary>A stop token or stop sequence.</summary>
    Stop,

    /// <summary>The token limit.</summary>
    Length,

    /// <summary>The reply asked for tool calls (and then stopped).</summary>
    ToolCalls,

    /// <summary>The context is full: no position is left for another token (before the token limit).</summary>
    ContextFull,
}
