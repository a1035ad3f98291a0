namespace Hunyuan.Vk.Model.Formats;

/// <summary>How a matrix is stored on the device. All are row-major over [rows, cols] with cols (the input) innermost.</summary>
public enum WeightFormat
{
    /// <summary>F32 values (parity runs and small tensors).</summary>
    F32,

    /// <summary>IEEE half values.</summary>
    F16,

    /// <summary>int8 per value with an f16 scale per group of 32 along the row: w = q * d.</summary>
    Q8,

    /// <summary>4-bit per value with an f16 scale per group of 32: w = (q - 8) * d.</summary>
    Q4,

    /// <summary>4-bit with an f16 scale and a 4-bit zero point per group of 128 (GPTQ-Int4 as it is): w = (q - z) * d.</summary>
    Q4Z,
}

public static class WeightFormats
{
    /// <summary>
    /// The device format of tensors a GPTQ-Int4 checkpoint leaves unquantized (embedding, lm_head, any dense linear):
    /// Q8 under Q4Z, as close to the release's 16-bit tensors as 8 bits get (Q4 there cost 50x the logits error on
    /// the parity checkpoints); other formats apply to every tensor.
    /// </summary>
    public static WeightFormat ForUnquantized(this WeightFormat format) => format == WeightFormat.Q4Z ? WeightFormat.Q8 : format;

    /// <summary>The format a checkpoint loads as unless told otherwise: Q4, or Q4Z (as stored) for GPTQ-Int4.</summary>
    public static WeightFormat DefaultFor(HunyuanConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Quantization.Format == CheckpointFormat.GptqInt4 ? WeightFormat.Q4Z : WeightFormat.Q4;
    }

    /// <summary>Values per scale.</summary>
    public static int GroupSize(this WeightFormat f) => f switch
    {
        WeightFormat.Q8 or WeightFormat.Q4 => 32,
        WeightFormat.Q4Z => 128,
        _ => 1,
    };

    /// <summary>Bytes the device reads per weight, scales and zero points included.</summary>
    public static double BytesPerWeight(this WeightFormat f) => f switch
    {
        WeightFormat.F32 => 4,
        WeightFormat.F16 => 2,
        WeightFormat.Q8 => 1 + 2.0 / 32,
        WeightFormat.Q4 => 0.5 + 2.0 / 32,
        _ => 0.5 + 2.5 / 128,
    };
}
