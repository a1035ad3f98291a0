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
    private readonly BindingResource[] _tables;

    private DeviceMatrix(GpuBuffer buffer, WeightFormat format, int rows, int cols, int count, ulong quantBytes, ulong scaleBytes, ulong zeroBytes)
    {
        Buffer = buffer;
        Format = format;
        Rows = rows;
        Cols = cols;
        Count = count;
        ulong scalesAt = RoundUp(quantBytes * (ulong)count), zerosAt = scalesAt + RoundUp(scaleBytes * (ulong)count);
        Quants = buffer.View(format == WeightFormat.F32 ? TexelFormat.Rgba32Float : TexelFormat.Rgba32Uint, 0, quantBytes * (ulong)count);
        Scales = scaleBytes == 0 ? null : buffer.View(TexelFormat.R16Float, scalesAt, scaleBytes * (ulong)count);
        Zeros = zeroBytes == 0 ? null : buffer.View(TexelFormat.R8Uint, zerosAt, zeroBytes * (ulong)count);
        _tables = format switch
        {
            WeightFormat.F32 or WeightFormat.F16 => [Quants],
            WeightFormat.Q4Z => [Quants, Scales!, Zeros!],
            _ => [Quants, Scales!],
        };
        QuantTexelsPerMatrix = (uint)(quantBytes / 16);
        ScalesPerMatrix = (uint)(scaleBytes / 2);
    }

    public GpuBuffer Buffer { get; }
    public WeightFormat Format { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int Count { get; }
    public TexelView Quants { get; }
    public TexelView? Scales { get; }
    public TexelView? Zeros { get; }

    /// <summary>Texels of <see cref="Quants"/> per matrix: the offset step from one stacked matrix to the next.</summary>
    public uint QuantTexelsPerMatrix { get; }

    /// <summary>Scales (and zero points) per matrix.</summary>
    public uint ScalesPerMatrix { get; }

    /// <summary>The texel views a kernel binds first, in shader order (shaders/include/weights.glsl).</summary>
    public ReadOnlySpan<BindingResource> Tables => _tables;

    /// <summary>The binding kinds of <see cref="Tables"/> for a format.</summary>
    public static BindingKind[] TableBindings(WeightFormat format) =>
        [.. Enumerable.Repeat(BindingKind.UniformTexel, format switch { WeightFormat.Q4Z => 3, WeightFormat.Q8 or WeightFormat.Q4 => 2, _ => 1 })];

    /// <summary>Bytes one matrix-vector product reads.</summary>
    public ulong BytesPerMatrix => QuantTexelsPerMatrix * 16UL + ScalesPerMatrix * (Format == WeightFormat.Q4Z ? 3UL : 2UL);

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
        if (first.Cols % 32 != 0)
        {
            throw new ArgumentException($"'{name}': cols {first.Cols} is not a multiple of 32, which the matrix kernels need");
        }

        ulong quantBytes = (ulong)first.Quants.Length, scaleBytes = (ulong)first.Scales.Length * 2, zeroBytes = (ulong)first.Zeros.Length;
        int n = count;
        ulong total = RoundUp(quantBytes * (ulong)n) + RoundUp(scaleBytes * (ulong)n) + zeroBytes * (ulong)n;
        GpuBuffer buffer = context.CreateBuffer(total, name);
        try
        {
            var stacked = new DeviceMatrix(buffer, first.Format, first.Rows, first.Cols, n, quantBytes, scaleBytes, zeroBytes);
            for (int i = 0; i < n; i++)
            {
                QuantizedMatrix m = i == 0 ? first : matrix(i);
                if (m.Format != first.Format || m.Rows != first.Rows || m.Cols != first.Cols)
                {
                    throw new ArgumentException($"'{name}': stacked matrices differ in format or shape");
                }

                buffer.Write<byte>(m.Quants, quantBytes * (ulong)i);
                if (scaleBytes > 0)
                {
                    buffer.Write<Half>(m.Scales, stacked.Scales!.Offset + scaleBytes * (ulong)i);
                }

                if (zeroBytes > 0)
                {
                    buffer.Write<byte>(m.Zeros, stacked.Zeros!.Offset + zeroBytes * (ulong)i);
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
