namespace Hunyuan.Vk.Model.Formats;

/// <summary>How a matrix is stored on the device. All are row-major over [rows, cols] with cols (the input) innermost;
/// <see cref="WeightFormats.Spec"/> says everything else about each.</summary>
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

    /// <summary>4-bit with an f16 scale and a zero point per group of 128 (GPTQ-Int4 as it is; the zero point a byte per group, GPTQ's stored value + 1, so 1..16): w = (q - z) * d.</summary>
    Q4Z,
}
