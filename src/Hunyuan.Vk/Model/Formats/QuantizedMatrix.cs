using System.Buffers.Binary;
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
        if (format is not (WeightFormat.F32 or WeightFormat.F16) && cols % format.GroupSize() != 0)
        {
            throw new ArgumentException($"{format} needs cols ({cols}) to be a multiple of {format.GroupSize()}");
        }

        Format = format;
        Rows = rows;
        Cols = cols;
        Quants = quants;
        Scales = scales ?? [];
        Zeros = zeros ?? [];
        long expected = format switch
        {
            WeightFormat.F32 => 4L * rows * cols,
            WeightFormat.F16 => 2L * rows * cols,
            WeightFormat.Q8 => (long)rows * cols,
            _ => (long)rows * cols / 2,
        };
        if (quants.Length != expected || (format.GroupSize() > 1 && Scales.Length != (long)rows * cols / format.GroupSize())
            || (format == WeightFormat.Q4Z && Zeros.Length != Scales.Length))
        {
            throw new ArgumentException($"{format} [{rows}, {cols}]: array sizes do not match the shape");
        }
    }

    /// <summary>
    /// Random weights in <paramref name="format"/> whose products keep O(1) activations (values of std about
    /// 1/sqrt(cols)): for timing runs, where values do not matter but NaNs and overflow would.
    /// </summary>
    public static QuantizedMatrix Random(WeightFormat format, int rows, int cols, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        long n = (long)rows * cols;
        float std = 1f / MathF.Sqrt(cols);
        switch (format)
        {
            case WeightFormat.F32:
            case WeightFormat.F16:
                var values = new byte[n * (format == WeightFormat.F32 ? 4 : 2)];
                for (long i = 0; i < n; i++)
                {
                    float v = (random.NextSingle() * 2 - 1) * 1.7f * std;   // uniform with that std
                    if (format == WeightFormat.F32)
                    {
                        BinaryPrimitives.WriteSingleLittleEndian(values.AsSpan((int)(i * 4)), v);
                    }
                    else
                    {
                        BinaryPrimitives.WriteHalfLittleEndian(values.AsSpan((int)(i * 2)), (Half)v);
                    }
                }

                return new QuantizedMatrix(format, rows, cols, values);
            default:
                var quants = new byte[format == WeightFormat.Q8 ? n : n / 2];
                random.NextBytes(quants);
                // Uniform quants have std ~74 (int8) or ~4.6 (int4 around its zero of 8).
                var scale = (Half)(std / (format == WeightFormat.Q8 ? 74f : 4.6f));
                var scales = new Half[n / format.GroupSize()];
                Array.Fill(scales, scale);
                byte[]? zeros = format == WeightFormat.Q4Z ? new byte[scales.Length] : null;
                if (zeros is not null)
                {
                    Array.Fill(zeros, (byte)8);
                }

                return new QuantizedMatrix(format, rows, cols, quants, scales, zeros);
        }
    }

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
    public float[] Dequantize()
    {
        var w = new float[(long)Rows * Cols];
        int group = Format.GroupSize();
        for (int r = 0; r < Rows; r++)
        {
            for (int k = 0; k < Cols; k++)
            {
                long i = (long)r * Cols + k;
                int g = r * GroupsPerRow + k / group;
                w[i] = Format switch
                {
                    WeightFormat.F32 => BinaryPrimitives.ReadSingleLittleEndian(Quants.AsSpan((int)(i * 4))),
                    WeightFormat.F16 => (float)BinaryPrimitives.ReadHalfLittleEndian(Quants.AsSpan((int)(i * 2))),
                    WeightFormat.Q8 => (sbyte)Quants[i] * (float)Scales[g],
                    WeightFormat.Q4 => (Nibble(i) - 8) * (float)Scales[g],
                    _ => (Nibble(i) - Zeros[g]) * (float)Scales[g],
                };
            }
        }

        return w;
    }

    private int Nibble(long i)
    {
        uint word = BinaryPrimitives.ReadUInt32LittleEndian(Quants.AsSpan((int)(i / 8 * 4)));
        return (int)((word >> (int)(4 * (i % 8))) & 0xF);
    }

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
