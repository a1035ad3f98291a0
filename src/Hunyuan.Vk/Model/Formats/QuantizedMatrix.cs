using System.Runtime.InteropServices;

namespace Hunyuan.Vk.Model.Formats;

/// <summary>
/// A matrix [rows, cols] in a device format, as the kernels read it (struct of arrays, so each array can be read with
/// wide, aligned loads):
/// <list type="bullet">
/// <item><see cref="Quants"/>: F32/F16 values; Q8 one sbyte per value; Q4/Q4Z 4-bit values packed 8 per little-endian
/// uint32, value k of a row at bits 4*(k%8) of word k/8 (the same packing as GPTQ's qweight along its input).</item>
/// <item><see cref="Scales"/>: f16 per group [rows, cols/group] (quantized formats).</item>
/// <item><see cref="Zeros"/>: Q4Z's zero point per group [rows, cols/128], one byte each (the real zero, 0..16).</item>
/// </list>
/// </summary>
public sealed class QuantizedMatrix
{
    public QuantizedMatrix(WeightFormat format, int rows, int cols, byte[] quants, Half[]? scales = null, byte[]? zeros = null)
    {
        ArgumentNullException.ThrowIfNull(quants);
        WeightFormatSpec spec = format.Spec();
        if (spec.HasScales)
        {
            spec.CheckShape(rows, cols);
        }

        Format = format;
        Rows = rows;
        Cols = cols;
        Quants = quants;
        Scales = scales ?? [];
        Zeros = zeros ?? [];
        if (quants.LongLength != (long)rows * cols * spec.BlockBytes / WeightFormatSpec.BlockValues || Scales.LongLength != spec.Groups(rows, cols)
            || Zeros.LongLength != (spec.HasZeros ? Scales.LongLength : 0))
        {
            throw new ArgumentException($"{format} [{rows}, {cols}]: array sizes do not match the shape");
        }
    }

    /// <summary>
    /// Random weights in <paramref name="format"/> whose products keep O(1) activations (values of std about
    /// 1/sqrt(cols)): for timing runs, where values do not matter but NaNs and overflow would.
    /// </summary>
    public static QuantizedMatrix Random(WeightFormat format, int rows, int cols, Random random) => Quantizer.Random(format, rows, cols, random);

    public WeightFormat Format { get; }
    public int Rows { get; }
    public int Cols { get; }
    public byte[] Quants { get; }
    public Half[] Scales { get; }
    public byte[] Zeros { get; }

    public int GroupsPerRow => Cols / Format.GroupSize();

    /// <summary>Bytes the device stores (and a matrix-vector product reads).</summary>
    public long DeviceBytes => Quants.Length + Scales.Length * 2L + Zeros.Length;

    /// <summary>The values this matrix stands for, row-major: what the CPU reference runs on to judge a kernel.</summary>
    public float[] Dequantize() => Quantizer.Dequantize(this);

    /// <summary>The quants viewed as 32-bit words (Q4, Q4Z).</summary>
    public ReadOnlySpan<uint> Words => MemoryMarshal.Cast<byte, uint>(Quants);

    /// <summary>Bytes of <see cref="Quants"/> per row.</summary>
    public int RowBytes => Quants.Length / Rows;

    /// <summary>Matrices of one format and width stacked row after row, exactly (rows are stored independently).</summary>
    public static QuantizedMatrix ConcatRows(params QuantizedMatrix[] parts) => SelectRows(parts, [.. parts.SelectMany((m, i) => Enumerable.Range(0, m.Rows).Select(r => (i, r)))]);

    /// <summary>Rows a_0, b_0, a_1, b_1, ... of two matrices of one shape and format, exactly.</summary>
    public static QuantizedMatrix InterleaveRows(QuantizedMatrix a, QuantizedMatrix b)
    {
        ArgumentNullException.ThrowIfNull(a);
        return SelectRows([a, b], [.. Enumerable.Range(0, a.Rows).SelectMany(r => new[] { (0, r), (1, r) })]);
    }

    private static QuantizedMatrix SelectRows(QuantizedMatrix[] parts, (int Part, int Row)[] rows)
    {
        ArgumentNullException.ThrowIfNull(parts);
        QuantizedMatrix first = parts[0];
        if (parts.Any(m => m.Format != first.Format || m.Cols != first.Cols))
        {
            throw new ArgumentException("Row operations need matrices of one format and width");
        }

        int rowBytes = first.RowBytes, groups = first.Format.GroupSize() > 1 ? first.GroupsPerRow : 0;
        var quants = new byte[rows.Length * rowBytes];
        var scales = new Half[rows.Length * groups];
        var zeros = new byte[first.Zeros.Length > 0 ? rows.Length * groups : 0];
        for (int i = 0; i < rows.Length; i++)
        {
            QuantizedMatrix m = parts[rows[i].Part];
            int r = rows[i].Row;
            m.Quants.AsSpan(r * rowBytes, rowBytes).CopyTo(quants.AsSpan(i * rowBytes));
            m.Scales.AsSpan(r * groups, groups).CopyTo(scales.AsSpan(i * groups));
            if (zeros.Length > 0)
            {
                m.Zeros.AsSpan(r * groups, groups).CopyTo(zeros.AsSpan(i * groups));
            }
        }

        return new QuantizedMatrix(first.Format, rows.Length, first.Cols, quants, groups > 0 ? scales : null, zeros.Length > 0 ? zeros : null);
    }
}
