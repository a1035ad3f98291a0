namespace Hunyuan.Vk.Model.Formats;

/// <summary>The descriptor of every <see cref="WeightFormat"/>, and the choices made from them.</summary>
public static class WeightFormats
{
    private static readonly WeightFormatSpec[] s_specs =
    [
        new(WeightFormat.F32, "f32", BlockBytes: 128, GroupSize: 0, HasZeros: false, FromFloats: true),
        new(WeightFormat.F16, "f16", BlockBytes: 64, GroupSize: 0, HasZeros: false, FromFloats: true),
        new(WeightFormat.Q8, "q8", BlockBytes: 32, GroupSize: 32, HasZeros: false, FromFloats: true),
        new(WeightFormat.Q4, "q4", BlockBytes: 16, GroupSize: 32, HasZeros: false, FromFloats: true),
        new(WeightFormat.Q4Z, "q4z", BlockBytes: 16, GroupSize: 128, HasZeros: true, FromFloats: false),
    ];

    /// <summary>Every format's descriptor.</summary>
    public static IReadOnlyList<WeightFormatSpec> All => s_specs;

    /// <summary>The descriptor of <paramref name="format"/>; an unknown value is an error, never a fallback.</summary>
    public static WeightFormatSpec Spec(this WeightFormat format) =>
        (uint)format < (uint)s_specs.Length && s_specs[(int)format].Format == format
            ? s_specs[(int)format]
            : throw new ArgumentOutOfRangeException(nameof(format), format, "Not a weight format this engine knows");

    /// <summary>The format named <paramref name="name"/> (<see cref="WeightFormatSpec.Name"/>), or null.</summary>
    public static WeightFormat? Parse(string? name) => s_specs.FirstOrDefault(s => s.Name == name)?.Format;

    /// <summary>
    /// The device format of tensors a GPTQ-Int4 checkpoint leaves unquantized (embedding, lm_head, any dense linear):
    /// Q8 under Q4Z, as close to the release's 16-bit tensors as 8 bits get (Q4 there cost 50x the logits error on
    /// the parity checkpoints); other formats apply to every tensor.
    /// </summary>
    public static WeightFormat ForUnquantized(this WeightFormat format) => format.Spec().FromFloats ? format : WeightFormat.Q8;

    /// <summary>The format a checkpoint loads as unless told otherwise: Q4, or Q4Z (as stored) for GPTQ-Int4.</summary>
    public static WeightFormat DefaultFor(HunyuanConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Quantization.Format == CheckpointFormat.GptqInt4 ? WeightFormat.Q4Z : WeightFormat.Q4;
    }

    /// <summary>Values per scale (1 for unscaled formats).</summary>
    public static int GroupSize(this WeightFormat f) => Math.Max(f.Spec().GroupSize, 1);

    /// <summary>Bytes the device reads per weight, scales and zero points included.</summary>
    public static double BytesPerWeight(this WeightFormat f) => f.Spec().BytesPerWeight;
}
