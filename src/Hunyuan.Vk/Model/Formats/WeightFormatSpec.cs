
namespace Hunyuan.Vk.Model.Formats;

/// <summary>
/// One device weight format, described once: a matrix is stored as blocks of <see cref="BlockValues"/> values along
/// each row (<see cref="BlockBytes"/> bytes of quants each), then an f16 scale per <see cref="GroupSize"/> values and,
/// with <see cref="HasZeros"/>, a one-byte zero point per group. Byte accounting, the device layout
/// (<c>DeviceMatrix</c>), shader ids (<see cref="Name"/> is the suffix of shaders/variants.txt) and CLI names follow from
/// it; the values themselves are made by <see cref="Quantizer"/> and read by shaders/include/weights.glsl.
/// </summary>
/// <param name="Format">The format described.</param>
/// <param name="Name">Lower-case name: the CLI's <c>--weights</c> value and the shader suffix (<c>matvec_q4z</c>).</param>
/// <param name="BlockBytes">Bytes of quants per block of <see cref="BlockValues"/> values.</param>
/// <param name="GroupSize">Values per f16 scale; 0 for unscaled formats.</param>
/// <param name="HasZeros">A zero-point byte per group besides the scale.</param>
/// <param name="FromFloats">Whether <see cref="Quantizer.Quantize"/> makes it from float weights (Q4Z comes from GPTQ only).</param>
public sealed record WeightFormatSpec(WeightFormat Format, string Name, int BlockBytes, int GroupSize, bool HasZeros, bool FromFloats)
{
    /// <summary>Values per block: the unit every matrix kernel reads, and what cols must be a multiple of.</summary>
    public const int BlockValues = 32;

    /// <summary>Bytes per texel of the quants view.</summary>
    public const int QuantTexelBytes = 16;

    public bool HasScales => GroupSize > 0;

    /// <summary>Bytes stored per group besides the quants: the f16 scale and the zero point.</summary>
    public int GroupBytes => HasScales ? 2 + (HasZeros ? 1 : 0) : 0;

    /// <summary>Bytes the device stores, and a product reads, per weight: quants, scales and zero points.</summary>
    public double BytesPerWeight => (double)BlockBytes / BlockValues + (HasScales ? (double)GroupBytes / GroupSize : 0);

    /// <summary>Bytes of quants of a [rows, cols] matrix.</summary>
    public long QuantBytes(long rows, long cols) => rows * (cols / BlockValues) * BlockBytes;

    /// <summary>Scales (and zero points) of a [rows, cols] matrix.</summary>
    public long Groups(long rows, long cols) => HasScales ? rows * (cols / GroupSize) : 0;

    /// <summary>Bytes of a [rows, cols] matrix: quants, scales and zero points.</summary>
    public long Bytes(long rows, long cols) => QuantBytes(rows, cols) + Groups(rows, cols) * GroupBytes;

    /// <summary>Throws unless a [rows, cols] matrix can be stored: cols a whole number of blocks and groups.</summary>
    public void CheckShape(long rows, long cols)
    {
        int unit = Math.Max(BlockValues, GroupSize);
        if (rows < 1 || cols < 1 || cols % unit != 0)
        {
            throw new ArgumentException($"{Format} needs cols to be a positive multiple of {unit}; the matrix is [{rows}, {cols}]");
        }
    }
}
