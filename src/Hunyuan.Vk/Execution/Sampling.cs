namespace Hunyuan.Vk.Execution;

/// <summary>Token choice: greedy when <see cref="Temperature"/> is 0, else top-k (at most 64) / top-p sampling at the temperature.</summary>
public sealed record Sampling(float Temperature, int TopK, float TopP, int Seed)
{
    public static Sampling Greedy { get; } = new(0, 1, 1, 0);

    public bool IsGreedy => Temperature <= 0;
}
