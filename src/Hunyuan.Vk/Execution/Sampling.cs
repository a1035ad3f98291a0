namespace Hunyuan.Vk.Execution;

/// <summary>
/// Token choice: greedy when <see cref="Temperature"/> is 0, else top-k (at most 64) / top-p sampling at the
/// temperature; either after the repetition penalty (1: none) on every token seen so far.
/// </summary>
public sealed record Sampling(float Temperature, int TopK, float TopP, int Seed, float RepetitionPenalty = 1f)
{
    public static Sampling Greedy { get; } = new(0, 1, 1, 0);

    public bool IsGreedy => Temperature <= 0;
}
