using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// A weight matrix laid out for the host kernels. Quantized formats (Q8, Q4, Q4Z) are held as <see cref="HostTiles"/>:
/// groups of 16 rows whose blocks a product decodes once for up to 4 tokens, f32 scales (widened once at load). F32 and
/// F16 matrices hold f32 <see cref="Values"/> (F16 widened at load: twice its bytes, for exact products on float
/// activations; no large model runs F16 on the host).
/// </summary>
internal sealed class HostMatrix
{
    public HostMatrix(QuantizedMatrix m)
    {
        ArgumentNullException.ThrowIfNull(m);
        Format = m.Format;
        Rows = m.Rows;
        Cols = m.Cols;
        if (IsQuantized)
        {
            Tiles = new HostTiles(m);
            Values = [];
            return;
        }

        Values = m.Format == WeightFormat.F32
            ? [.. System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(m.Quants)]
            : [.. System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(m.Quants).ToArray().Select(h => (float)h)];
    }

    public WeightFormat Format { get; }
    public int Rows { get; }
    public int Cols { get; }

    /// <summary>Whether products take int8 activations (Q8, Q4, Q4Z: <see cref="Tiles"/>) or floats (F32, F16: <see cref="Values"/>).</summary>
    public bool IsQuantized => Format.Spec().HasScales;

    /// <summary>A quantized matrix's tiles (null for F32 and F16).</summary>
    public HostTiles? Tiles { get; }

    /// <summary>F32 and F16 matrices' values, row-major (empty for quantized ones).</summary>
    public float[] Values { get; }

    /// <summary>Row <paramref name="r"/> of a float matrix.</summary>
    public ReadOnlySpan<float> ValueRow(int r) => Values.AsSpan(r * Cols, Cols);

    /// <summary>Bytes one product reads: the tiles (quants, f32 scales and zero points) or the f32 values.</summary>
    public long Bytes => Tiles?.Bytes ?? Values.LongLength * 4;

    /// <summary>Bytes a [<paramref name="rows"/>, <paramref name="cols"/>] matrix in <paramref name="format"/> takes as
    /// held here: f32 values for F32 and F16; else the tiles' quants (rows padded to a whole group), f32 scales and zero points.</summary>
    public static long BytesFor(WeightFormat format, long rows, long cols)
    {
        WeightFormatSpec spec = format.Spec();
        if (!spec.HasScales)
        {
            return 4 * rows * cols;
        }

        long padded = (rows + HostTiles.GroupRows - 1) / HostTiles.GroupRows * HostTiles.GroupRows;
        return padded * cols * spec.BlockBytes / WeightFormatSpec.BlockValues + padded * (cols / spec.GroupSize) * (spec.HasZeros ? 4 : 2);
    }

    /// <summary>dots[t * 8 + j] = row 8 <paramref name="group"/> + j of a quantized matrix dotted with
    /// <paramref name="xs"/>[t], for up to <see cref="HostTiles.TileTokens"/> tokens.</summary>
    public void Dot(int group, ReadOnlySpan<Int8Activation> xs, Span<float> dots) => Tiles!.Dot(group, xs, dots, HostKernels.Best);

    /// <summary>The values row <paramref name="r"/> stands for (an embedding's lookup).</summary>
    public void DequantizeRow(int r, Span<float> values)
    {
        if (values.Length != Cols)
        {
            throw new ArgumentException($"{values.Length} values for a row of {Cols}");
        }

        if (Tiles is null)
        {
            ValueRow(r).CopyTo(values);
            return;
        }

        for (int c = 0; c < Cols; c++)
        {
            values[c] = Tiles.Value(r, c);
        }
    }
}
