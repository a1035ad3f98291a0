namespace Hunyuan.Vk.Generation;

/// <summary>Timings of one generation: prompt processing, time to first token, decoding.</summary>
public sealed class GenerationStats
{
    /// <summary>Prompt tokens run through the model (the prompt less those already in the cache).</summary>
    public int PromptTokens { get; internal set; }

    /// <summary>Prompt tokens found in the KV cache from the previous generation (a shared prefix) and not run again.</summary>
    public int CachedPromptTokens { get; internal set; }
    public int GeneratedTokens { get; internal set; }
    public TimeSpan PromptTime { get; internal set; }
    public TimeSpan DecodeTime { get; internal set; }

    /// <summary>Why it ended (set when it has).</summary>
    public FinishReason? FinishReason { get; internal set; }

    /// <summary>From the start until the first generated token is known.</summary>
    public TimeSpan TimeToFirstToken => PromptTime;

    public double PromptTokensPerSecond => PromptTokens / Math.Max(PromptTime.TotalSeconds, 1e-9);
    public double DecodeTokensPerSecond => GeneratedTokens > 1 ? (GeneratedTokens - 1) / Math.Max(DecodeTime.TotalSeconds, 1e-9) : 0;
}
