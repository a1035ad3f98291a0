namespace Hunyuan.Vk.Execution;

/// <summary>
/// Token choice: greedy when <see cref="Temperature"/> is 0, else top-k (at most 64) / top-p sampling at the
/// temperature; either after the repetition penalty (1: none) on every token seen so far.
/// </summary>
public sealed record Sampling(float Temperature, int TopK, float TopP, int Seed, float RepetitionPenalty = 1f)
{
    /// <summary>Candidates top-k sampling takes at most (the sampler's).</summary>
    public const int MaxTopK = Kernels.Sampler.MaxK;

    public static Sampling Greedy { get; } = new(0, 1, 1, 0);

    public bool IsGreedy => Temperature <= 0;

    /// <summary>The caller's choices where given, generation_config.json's defaults otherwise (greedy when it says do_sample false).</summary>
    public static Sampling From(Model.GenerationConfig defaults, float? temperature, int? topK, float? topP, float? repetitionPenalty, int seed)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        return new Sampling(temperature ?? (defaults.DoSample ? defaults.Temperature : 0), topK ?? defaults.TopK, topP ?? defaults.TopP, seed,
            repetitionPenalty ?? defaults.RepetitionPenalty);
    }
}
