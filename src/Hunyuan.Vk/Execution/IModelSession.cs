namespace Hunyuan.Vk.Execution;

/// <summary>
/// A loaded model with its KV cache that runs tokens one sequence at a time: on a Vulkan device
/// (<see cref="DecodeSession"/>) or on the host's cores (<see cref="HostSession"/>). The text generator drives either.
/// </summary>
public interface IModelSession : IDisposable
{
    /// <summary>KV-cache positions.</summary>
    int MaxPositions { get; }

    /// <summary>Tokens in the cache: the position of the next token.</summary>
    int Position { get; }

    /// <summary>Runs <paramref name="token"/> at the next position; returns the next token (-1: a logit was not finite).</summary>
#pragma warning disable CA1716 // Step is VB's keyword; the name the device session's callers have always used
    int Step(int token);
#pragma warning restore CA1716

    /// <summary>Runs the prompt in chunks on the multi-token products, filling the cache; returns the next token chosen
    /// from the last position's logits.</summary>
    int Prefill(IReadOnlyList<int> tokens);

    /// <summary>How many of <paramref name="tokens"/>, from the first, the cache already holds at their positions.</summary>
    int SharedPrefix(IReadOnlyList<int> tokens);

    /// <summary>Keeps the first <paramref name="position"/> positions and forgets the rest.</summary>
    void Rewind(int position);

    /// <summary>Empties the cache.</summary>
    void Reset();

    /// <summary>How the next token is chosen from the logits; a seed makes sampling reproducible.</summary>
    void SetSampling(Sampling sampling);

    /// <summary>Copies the last step's logits ([vocab]) into <paramref name="logits"/>.</summary>
    void ReadLogits(Span<float> logits);
}
