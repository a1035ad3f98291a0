using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>
/// A weight matrix on the device in one of the <see cref="WeightFormat"/>s: one buffer holding the quants, then the f16
/// scales, then the zero points, each viewed as a texel buffer. <see cref="Count"/> matrices of the same shape can be
/// stacked in one (the experts of a layer); kernels pick one by its texel offsets.
/// </summary>
public sealed class DeviceMatrix : IDisposable
{
    private const ulong Align = 256;   // region alignment: above every device's minTexelBufferOffsetAlignment
    private readonly TexelView[] _tables;   // quants, then scales and zero points where the format has them
    private readonly BindingResource[] _bindings;

    private DeviceMatrix(GpuBuffer buffer, WeightFormatSpec spec, int rows, int cols, int count)
    {
        Buffer = buffer;
        Format = spec.Format;
        Rows = rows;
        Cols = cols;
        Count = count;
        ulong at = 0;
        _tables = new TexelView[spec.Tables.Count];
        for (int t = 0; t < _tables.Length; t++)
        {
            _tables[t] = buffer.View(spec.Tables[t], at, RegionBytes(spec, rows, cols, t) * (ulong)count);
            at += RoundUp(_tables[t].Bytes);
        }

        QuantTexelsPerMatrix = (uint)(spec.QuantBytes(rows, cols) / WeightFormatSpec.QuantTexelBytes);
        ScalesPerMatrix = (uint)spec.Groups(rows, cols);
        BytesPerMatrix = (ulong)spec.Bytes(rows, cols);
        _bindings = [.. _tables];
    }

    public GpuBuffer Buffer { get; }
    public WeightFormat Format { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int Count { get; }
    public TexelView Quants => _tables[0];
    public TexelView? Scales => _tables.Length > 1 ? _tables[1] : null;
    public TexelView? Zeros => _tables.Length > 2 ? _tables[2] : null;

    /// <summary>Texels of <see cref="Quants"/> per matrix: the offset step from one stacked matrix to the next.</summary>
    public uint QuantTexelsPerMatrix { get; }

    /// <summary>Scales (and zero points) per matrix.</summary>
    public uint ScalesPerMatrix { get; }

    /// <summary>The texel views a kernel binds first, in shader order (shaders/include/weights.glsl).</summary>
    public ReadOnlySpan<BindingResource> Tables => _bindings;

    /// <summary>The binding kinds of <see cref="Tables"/> for a format.</summary>
    public static BindingKind[] TableBindings(WeightFormat format) => [.. format.Spec().Tables.Select(_ => BindingKind.UniformTexel)];

    /// <summary>Bytes one matrix occupies and one matrix-vector product reads (<see cref="WeightFormatSpec.Bytes"/>).</summary>
    public ulong BytesPerMatrix { get; }

    /// <summary>Bytes the stack's views cover: <see cref="Count"/> x <see cref="BytesPerMatrix"/> (the buffer adds alignment).</summary>
    public ulong ViewBytes => _tables.Aggregate(0UL, (sum, t) => sum + t.Bytes);

    // Bytes of table t (quants, scales, zero points) of one [rows, cols] matrix.
    private static ulong RegionBytes(WeightFormatSpec spec, int rows, int cols, int t) =>
        (ulong)(t == 0 ? spec.QuantBytes(rows, cols) : spec.Groups(rows, cols) * (t == 1 ? 2 : 1));

    /// <summary>Uploads matrices of one shape and format, stacked in order.</summary>
    public static DeviceMatrix Upload(GpuContext context, string name, IReadOnlyList<QuantizedMatrix> matrices)
    {
        ArgumentNullException.ThrowIfNull(matrices);
        return Upload(context, name, matrices.Count, i => matrices[i]);
    }

    /// <summary>Uploads <paramref name="count"/> matrices of one shape and format, stacked in order, made one at a time
    /// by <paramref name="matrix"/> (so only one is in host memory at once).</summary>
    public static DeviceMatrix Upload(GpuContext context, string name, int count, Func<int, QuantizedMatrix> matrix)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        QuantizedMatrix first = matrix(0);
        WeightFormatSpec spec = first.Format.Spec();
        if (first.Cols % WeightFormatSpec.BlockValues != 0)
        {
            throw new ArgumentException($"'{name}': cols {first.Cols} is not a multiple of {WeightFormatSpec.BlockValues}, which the matrix kernels need");
        }

        int tables = spec.Tables.Count;
        ulong total = 0;
        for (int t = 0; t < tables; t++)
        {
            total += RoundUp(RegionBytes(spec, first.Rows, first.Cols, t) * (ulong)count);
        }

        GpuBuffer buffer = context.CreateBuffer(total, name);
        try
        {
            var stacked = new DeviceMatrix(buffer, spec, first.Rows, first.Cols, count);
            for (int i = 0; i < count; i++)
            {
                QuantizedMatrix m = i == 0 ? first : matrix(i);
                if (m.Format != first.Format || m.Rows != first.Rows || m.Cols != first.Cols)
                {
                    throw new ArgumentException($"'{name}': stacked matrices differ in format or shape");
                }

                buffer.Write<byte>(m.Quants, stacked.Quants.Offset + (ulong)m.Quants.Length * (ulong)i);
                if (stacked.Scales is TexelView scales)
                {
                    buffer.Write<Half>(m.Scales, scales.Offset + (ulong)m.Scales.Length * 2 * (ulong)i);
                }

                if (stacked.Zeros is TexelView zeros)
                {
                    buffer.Write<byte>(m.Zeros, zeros.Offset + (ulong)m.Zeros.Length * (ulong)i);
                }
            }

            return stacked;
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    public static DeviceMatrix Upload(GpuContext context, string name, QuantizedMatrix matrix) => Upload(context, name, [matrix]);

    private static ulong RoundUp(ulong n) => (n + Align - 1) / Align * Align;

    public void Dispose() => Buffer.Dispose();
}
