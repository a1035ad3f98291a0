using Hunyuan.Vk.Model.Safetensors;

namespace Hunyuan.Vk.Model.Synthetic;

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

    /// <summary>The preset named as on make-model's command line: tiny, small or a13b.</summary>
    public static ModelPreset ParsePreset(string? name) => name switch
    {
        "small" => ModelPreset.Small,
        "a13b" => ModelPreset.A13b,
        _ => ModelPreset.Tiny,
    };

    /// <summary>The stored float type named as on make-model's command line: bf16, f16 or f32.</summary>
    public static DType ParseFloatType(string? name) => name switch
    {
        "f16" => DType.F16,
        "f32" => DType.F32,
        _ => DType.BF16,
    };

    /// <summary>The checkpoint format named as on make-model's command line: dense, gptq-int4 or fp8.</summary>
    public static CheckpointFormat ParseFormat(string? name) => name switch
    {
        "gptq-int4" => CheckpointFormat.GptqInt4,
        "fp8" => CheckpointFormat.Fp8,
        _ => CheckpointFormat.Dense,
    };
}
