using Hunyuan.Vk.Model.Safetensors;

namespace Hunyuan.Vk.Model.Generation;

/// <summary>What <c>hyvk make-model</c> writes.</summary>
public sealed record GeneratorOptions
{
    public ModelPreset Preset { get; init; } = ModelPreset.Tiny;

    /// <summary>Overrides the preset's layer count (to fit memory with <c>a13b</c>).</summary>
    public int? Layers { get; init; }

    /// <summary>Overrides the real vocabulary (128167): a small one keeps test fixtures small. Token ids then stop at
    /// this size, below the tokenizer's special tokens, so such a model is run on token ids, not text.</summary>
    public int? Vocab { get; init; }

    /// <summary>False writes a separate random <c>lm_head.weight</c> (A13B ties it to the embedding): with a tied head a
    /// tiny random model mostly repeats its last token, so greedy-token tests learn little.</summary>
    public bool TieEmbeddings { get; init; } = true;

    public ulong Seed { get; init; } = 1;

    /// <summary>Stored type of float tensors: BF16 (the real checkpoints'), F16 or F32.</summary>
    public DType FloatType { get; init; } = DType.BF16;

    public CheckpointFormat Format { get; init; } = CheckpointFormat.Dense;

    /// <summary>Number of safetensors files; more than one writes model.safetensors.index.json.</summary>
    public int Shards { get; init; } = 1;

    /// <summary>A hy.tiktoken rank file to ship with the model; null ships cl100k_base (Microsoft.ML.Tokenizers.Data.Cl100kBase).</summary>
    public string? TokenizerPath { get; init; }
}
