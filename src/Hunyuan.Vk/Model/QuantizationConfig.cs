namespace Hunyuan.Vk.Model;

/// <summary>How the checkpoint's linear weights are stored (config.json <c>quantization_config</c>).</summary>
public enum CheckpointFormat
{
    /// <summary>BF16, F16 or F32 <c>weight</c> tensors.</summary>
    Dense,

    /// <summary>AutoGPTQ v1 int4: <c>qweight</c>, <c>qzeros</c> (stored zero - 1), <c>scales</c>, <c>g_idx</c> (docs/model.md 4.1).</summary>
    GptqInt4,

    /// <summary>F8_E4M3 <c>weight</c> with a per-tensor F32 <c>weight_scale</c> (docs/model.md 4.2).</summary>
    Fp8,
}

/// <summary>The parts of <c>quantization_config</c> the engine reads.</summary>
public sealed record QuantizationConfig(CheckpointFormat Format, int Bits, int GroupSize, bool Symmetric, bool DescAct)
{
    public static QuantizationConfig None { get; } = new(CheckpointFormat.Dense, 16, 0, false, false);
}
