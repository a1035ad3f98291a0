namespace Hunyuan.Vk.Model.Synthetic;

/// <summary>Model shapes for generated checkpoints. <c>a13b</c> is Hunyuan-A13B's real shape (docs/model.md 1.1).</summary>
public enum ModelPreset
{
    Tiny,
    Small,
    A13b,
}

/// <summary>The dimensions of a preset; every preset keeps the real vocabulary (128167) so the real tokenizer fits.</summary>
public sealed record PresetShape(int Hidden, int Layers, int Heads, int KvHeads, int HeadDim, int Intermediate, int Experts, int TopK)
{
    public const int Vocab = 128167;

    public static PresetShape For(ModelPreset preset) => preset switch
    {
        // Smallest shape where every linear still fits GPTQ's group of 128 along its input.
        ModelPreset.Tiny => new(Hidden: 128, Layers: 2, Heads: 4, KvHeads: 2, HeadDim: 32, Intermediate: 128, Experts: 8, TopK: 2),
        ModelPreset.Small => new(Hidden: 512, Layers: 4, Heads: 8, KvHeads: 2, HeadDim: 64, Intermediate: 384, Experts: 16, TopK: 4),
        ModelPreset.A13b => new(Hidden: 4096, Layers: 32, Heads: 32, KvHeads: 8, HeadDim: 128, Intermediate: 3072, Experts: 64, TopK: 8),
        _ => throw new ArgumentOutOfRangeException(nameof(preset)),
    };
}
