using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// A weight matrix laid out for the host kernels: the quants as the device has them (row-major, Q8 one signed byte
/// per value, Q4/Q4Z 16 bytes per 32 values), the scales widened to f32 once at load (the kernels would otherwise
/// convert an f16 per block per row: that conversion, not memory, bounded the Q4 kernel), and Q4Z's zero points.
/// F32 and F16 matrices hold f32 <see cref="Values"/> (F16 widened at load: twice its bytes, for exact products on
/// float activations; no large model runs F16 on the host).
/// </summary>
internal sealed class HostMatrix
{
    public HostMatrix(QuantizedMatrix m)
    {
        ArgumentNullException.ThrowIfNull(m);
        Format = m.Format;
        Rows = m.Rows;
        Cols = m.Cols;
        if (!IsQuantized)
        {
            Values = m.Format == WeightFormat.F32
                ? [.. System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(m.Quants)]
                : [.. System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(m.Quants).ToArray().Select(h => (float)h)];
            Quants = [];
            Scales = [];
            Zeros = [];
            return;
        }

        if (m.Format is not (WeightFormat.Q8 or WeightFormat.Q4 or WeightFormat.Q4Z))
        {
            throw new NotSupportedException($"host kernels run F32, F16, Q8, Q4 and Q4Z; not {m.Format}");
        }

        Values = [];
        Quants = m.Quants;
        Scales = [.. m.Scales.Select(h => (float)h)];
        Zeros = m.Zeros;
        GroupsPerRow = m.GroupsPerRow;
        RowBytes = Cols / 32 * Format.Spec().BlockBytes;
    }

    /// <summary>Whether products take int8 activations (Q8, Q4, Q4Z); F32 and F16 take the floats.</summary>
    public bool IsQuantized => Format.Spec().HasScales;

    /// <summary>F32 and F16 matrices' values, row-major (empty for quantized ones).</summary>
    public float[] Values { get; }

    /// <summary>Row <paramref name="r"/> of a float matrix.</summary>
    public ReadOnlySpan<float> ValueRow(int r) => Values.AsSpan(r * Cols, Cols);

    public WeightFormat Format { get; }
    public int Rows { get; }
    public int Cols { get; }
    public byte[] Quants { get; }
    public float[] Scales { get; }
    public byte[] Zeros { get; }
    public int GroupsPerRow { get; }

    /// <summary>Quant bytes per row.</summary>
    public int RowBytes { get; }

    /// <summary>Bytes one product reads: the quants, the f32 scales, the zero points (or the f32 values).</summary>
    public long Bytes => Quants.LongLength + Scales.LongLength * 4 + Zeros.LongLength + Values.LongLength * 4;

    /// <summary>The values row <paramref name="r"/> stands for (an embedding's lookup).</summary>
    public void DequantizeRow(int r, Span<float> values)
    {
        if (values.Length != Cols)
        {
            throw new ArgumentException($"{values.Length} values for a row of {Cols}");
        }

        if (!IsQuantized)
        {
            ValueRow(r).CopyTo(values);
            return;
        }

        ReadOnlySpan<byte> quants = Quants.AsSpan(r * RowBytes, RowBytes);
        int group = Format.GroupSize();
        for (int k = 0; k < Cols; k++)
        {
            int g = r * GroupsPerRow + k / group;
            values[k] = Format switch
            {
                WeightFormat.Q8 => (sbyte)quants[k],
                // value k at bits 4 * (k % 8) of little-endian word k / 8: byte k / 2, low nibble for even k
                WeightFormat.Q4 => ((quants[k / 2] >> (4 * (k & 1))) & 15) - 8,
                _ => ((quants[k / 2] >> (4 * (k & 1))) & 15) - Zeros[g],
            } * Scales[g];
        }
    }

    /// <summary>Row <paramref name="r"/> dotted with each of <paramref name="xs"/> (at most <see cref="HostDot.MaxBatch"/>).</summary>
    public void Dot(int r, ReadOnlySpan<Int8Activation> xs, Span<float> dots) => Dot(r, xs, dots, HostDot.Best);

    /// <summary>As <see cref="Dot(int, ReadOnlySpan{Int8Activation}, Span{float})"/> on the instruction set <paramref name="path"/> (tests).</summary>
    internal void Dot(int r, ReadOnlySpan<Int8Activation> xs, Span<float> dots, HostDot.Path path) =>
        HostDot.Batch(Format, Quants.AsSpan(r * RowBytes, RowBytes), Scales.AsSpan(r * GroupsPerRow, GroupsPerRow),
            Format == WeightFormat.Q4Z ? Zeros.AsSpan(r * GroupsPerRow, GroupsPerRow) : [], xs, dots, path);

    /// <summary>Row <paramref name="r"/> dotted with <paramref name="x"/>.</summary>
    public float Dot(int r, Int8Activation x) => Dot(r, x, HostDot.Best);

    /// <summary>As <see cref="Dot(int, Int8Activation)"/> on the instruction set <paramref name="path"/> (tests).</summary>
    internal float Dot(int r, Int8Activation x, HostDot.Path path)
    {
        ReadOnlySpan<byte> quants = Quants.AsSpan(r * RowBytes, RowBytes);
        ReadOnlySpan<float> scales = Scales.AsSpan(r * GroupsPerRow, GroupsPerRow);
        return Format switch
        {
            WeightFormat.Q8 => HostDot.Q8(quants, scales, x, path),
            WeightFormat.Q4 => HostDot.Q4(quants, scales, [], x, path),
            _ => HostDot.Q4(quants, scales, Zeros.AsSpan(r * GroupsPerRow, GroupsPerRow), x, path),
        };
    }
}
