using System.Text.Json.Nodes;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Generation;

/// <summary>What one generation call asks for; null fields take generation_config.json's values.</summary>
public sealed record GenerateOptions
{
    public int MaxTokens { get; init; } = 512;
    public bool Thinking { get; init; } = true;
    public float? Temperature { get; init; }
    /// <summary>Candidates to sample from, 1 to <see cref="MaxTopK"/>.</summary>
    public int? TopK { get; init; }

    /// <summary>The most candidates the GPU sampler keeps.</summary>
    public const int MaxTopK = Sampling.MaxTopK;
    public float? TopP { get; init; }
    public float? RepetitionPenalty { get; init; }
    public int Seed { get; init; }

    /// <summary>Close the reasoning after this many thinking tokens (<see cref="TextGenerator.CloseThought"/>) and let the model answer.</summary>
    public int? ThinkBudget { get; init; }

    /// <summary>Function tools for the chat template (OpenAI's <c>{"type": "function", "function": {name, description,
    /// parameters}}</c>); null or empty: none. The reply's calls arrive as <see cref="ReplyPart.ToolCall"/> updates.</summary>
    public IReadOnlyList<JsonNode>? Tools { get; init; }

    /// <summary>Answer text that ends the generation; the sequence itself is not shown.</summary>
    public IReadOnlyList<string>? StopSequences { get; init; }

    /// <summary>For tests (an internal seam, not an option): the reply is these ids, in place of what the model samples
    /// (each still runs through the model, the decoder, the parser and whatever streams it), ending after the last. A
    /// random model never writes a tool call by itself; this lets the paths that carry them be tested end to end.</summary>
    internal IReadOnlyList<int>? ScriptedReply { get; init; }

    /// <summary>Filled in as the generation runs: token counts, prompt time, decode time, why it ended.</summary>
    public GenerationStats? Stats { get; init; }

    /// <summary>If set, receives the logits [vocab] of every prompt position and generated step (the prompt then runs
    /// token by token instead of in chunks).</summary>
    public Action<float[]>? OnLogits { get; init; }
}
