namespace Hunyuan.Vk.Reference;

/// <summary>The numbers the reference forward pass needs (docs/model.md 2). Filled from config.json by the caller.</summary>
public sealed record ReferenceConfig
{
    public required int Hidden { get; init; }             // 4096
    public required int Layers { get; init; }             // 32
    public required int Heads { get; init; }              // 32 query heads
    public required int KvHeads { get; init; }            // 8 key/value heads
    public required int HeadDim { get; init; }            // 128
    public required int Vocab { get; init; }              // 128167
    public required int Experts { get; init; }            // 64 routed experts
    public required int TopK { get; init; }               // 8
    public required int ExpertIntermediate { get; init; } // 3072
    public required int SharedIntermediate { get; init; } // 3072 (0: no shared expert)
    public required double RmsNormEps { get; init; }      // 1e-5
    public required double RopeBase { get; init; }        // 10000 * 1000^(128/126)
    public required bool UseQkNorm { get; init; }         // per-head RMSNorm of q and k, after RoPE
    public required bool NormTopKProb { get; init; }      // renormalise the top-k router weights
    public required double RoutedScalingFactor { get; init; } // 1.0
    public required bool TiedEmbeddings { get; init; }    // lm_head = embed_tokens
}
