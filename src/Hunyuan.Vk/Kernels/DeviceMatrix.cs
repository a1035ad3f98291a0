using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>
/// A weight matrix on the device in one of the <see cref="WeightFormat"/>s: the quants, then the f16 scales, then the
/// zero points, each viewed as a texel buffer. <see cref="Count"/> matrices of the same shape can be stacked (the
/// experts of a layer); kernels pick one by its texel offsets. A stack whose views would exceed the device's
/// maxTexelBufferElements (A13B's F16 gate/up experts on NVIDIA) or one allocation is split into
/// <see cref="Parts"/>, each a buffer of whole matrices within the limits; kernels record one dispatch per part.
/// </summary>
public sealed class DeviceMatrix : IDisposable
{
    private const ulong Align = 256;   // region alignment: above every device's minTexelBufferOffsetAlignment
    private readonly DeviceMatrixPart[] _parts;

    private DeviceMatrix(WeightFormatSpec spec, int rows, int cols, int count, DeviceMatrixPart[] parts)
    {
        Format = spec.Format;
        Rows = rows;
        Cols = cols;
        Count = count;
        _parts = parts;
        QuantTexelsPerMatrix = (uint)(spec.QuantBytes(rows, cols) / WeightFormatSpec.QuantTexelBytes);
        ScalesPerMatrix = (uint)spec.Groups(rows, cols);
        BytesPerMatrix = (ulong)spec.Bytes(rows, cols);
    }

    public WeightFormat Format { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int Count { get; }

    /// <summary>The stack index of the first matrix held: 0, or where a stack holds only its last matrices (a layer
    /// whose routed experts are on the host keeps its shared expert here, at the index the routing gives it).</summary>
    public int First => _parts[0].First;

    /// <summary>The runs of whole matrices the stack is held in: one, unless the device's limits split it. A span, so
    /// the recording of a step walks it without allocating an enumerator.</summary>
    public ReadOnlySpan<DeviceMatrixPart> Parts => _parts;

    /// <summary>Texels of the quants per matrix: the offset step from one stacked matrix to the next.</summary>
    public uint QuantTexelsPerMatrix { get; }

    /// <summary>Scales (and zero points) per matrix.</summary>
    public uint ScalesPerMatrix { get; }

    /// <summary>The texel views a kernel binds first, in shader order (shaders/include/weights.glsl), of a matrix held
    /// in one part; a split stack is bound part by part (<see cref="Parts"/>).</summary>
    public ReadOnlySpan<BindingResource> Tables => _parts.Length == 1
        ? _parts[0].Tables
        : throw new InvalidOperationException($"The stack '{_parts[0].Buffer.Name}' is split in {_parts.Length} parts: bind them one by one");

    /// <summary>The binding kinds of <see cref="Tables"/> for a format.</summary>
    public static BindingKind[] TableBindings(WeightFormat format) => [.. format.Spec().Tables().Select(_ => BindingKind.UniformTexel)];

    /// <summary>Bytes one matrix occupies and one matrix-vector product reads (<see cref="WeightFormatSpec.Bytes"/>).</summary>
    public ulong BytesPerMatrix { get; }

    /// <summary>Bytes the stack's views cover: <see cref="Count"/> x <see cref="BytesPerMatrix"/> (the buffers add alignment).</summary>
    public ulong ViewBytes => _parts.Aggregate(0UL, (sum, p) => sum + p.ViewBytes);

    /// <summary>Bytes of device memory the stack's buffers hold.</summary>
    public ulong DeviceBytes => _parts.Aggregate(0UL, (sum, p) => sum + p.Buffer.Size);

    /// <summary>The part holding stack index <paramref name="index"/> and the matrix's index within it.</summary>
    public (DeviceMatrixPart Part, int Local) Locate(int index)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(index, First);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, First + Count);
        foreach (DeviceMatrixPart part in _parts)
        {
            if (index < part.First + part.Count)
            {
                return (part, index - part.First);
            }
        }

        throw new InvalidOperationException("unreachable: the parts cover the stack");
    }

    // Bytes of table t (quants, scales, zero points) of one [rows, cols] matrix.
    internal static ulong TableBytes(WeightFormatSpec spec, long rows, long cols, int t) =>
        (ulong)(t == 0 ? spec.QuantBytes(rows, cols) : spec.Groups(rows, cols) * (t == 1 ? 2 : 1));

    /// <summary>How many matrices of a shape one part may hold on a device: every table's view within
    /// maxTexelBufferElements, the buffer within one allocation. Zero: not even one matrix fits.</summary>
    public static long MatricesPerPart(WeightFormatSpec spec, long rows, long cols, DeviceLimits limits)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(limits);
        long most = long.MaxValue;
        ulong bytes = 0;
        for (int t = 0; t < spec.Tables().Count; t++)
        {
            ulong region = TableBytes(spec, rows, cols, t);
            most = (long)Math.Min((ulong)most, limits.MaxTexelBufferElements / (region / (ulong)TexelView.TexelBytes(spec.Tables()[t])));
            bytes += region;
        }

        ulong allocation = Math.Min(limits.MaxMemoryAllocationSize, limits.MaxBufferSize == 0 ? ulong.MaxValue : limits.MaxBufferSize);
        ulong slack = Align * (ulong)spec.Tables().Count;   // each table's region rounded up
        return allocation < slack ? 0 : (long)Math.Min((ulong)most, (allocation - slack) / bytes);
    }

    /// <summary>Uploads matrices of one shape and format, stacked in order.</summary>
    public static DeviceMatrix Upload(GpuContext context, string name, IReadOnlyList<QuantizedMatrix> matrices)
    {
        ArgumentNullException.ThrowIfNull(matrices);
        return Upload(context, name, matrices.Count, i => matrices[i]);
    }

    /// <summary>Uploads <paramref name="count"/> matrices of one shape and format, stacked in order, made one at a time
    /// by <paramref name="matrix"/> (so only one is in host memory at once); the first at stack index
    /// <paramref name="first"/>.</summary>
    public static DeviceMatrix Upload(GpuContext context, string name, int count, Func<int, QuantizedMatrix> matrix, int first = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(matrix);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        QuantizedMatrix m0 = matrix(0);
        WeightFormatSpec spec = m0.Format.Spec();
        if (m0.Cols % WeightFormatSpec.BlockValues != 0)
        {
            throw new ArgumentException($"'{name}': cols {m0.Cols} is not a multiple of {WeightFormatSpec.BlockValues}, which the matrix kernels need");
        }

        long perPart = MatricesPerPart(spec, m0.Rows, m0.Cols, context.Info.Limits);
        if (perPart < 1)
        {
            throw new NotSupportedException(
                $"'{name}': one {m0.Rows}x{m0.Cols} {spec.Name} matrix exceeds {context.Info.Name}'s maxTexelBufferElements ({context.Info.Limits.MaxTexelBufferElements:N0}) or its largest allocation; choose a smaller --weights format");
        }

        int parts = (int)((count + perPart - 1) / perPart);
        int size = (count + parts - 1) / parts;   // balanced: the parts differ by at most one matrix
        var made = new List<DeviceMatrixPart>(parts);
        try
        {
            for (int at = 0; at < count; at += size)
            {
                int n = Math.Min(size, count - at);
                made.Add(DeviceMatrixPart.Create(context, parts == 1 ? name : $"{name} [{first + at}..{first + at + n - 1}]", spec, m0.Rows, m0.Cols, first + at, n));
            }

            var stacked = new DeviceMatrix(spec, m0.Rows, m0.Cols, count, [.. made]);
            for (int i = 0; i < count; i++)
            {
                QuantizedMatrix m = i == 0 ? m0 : matrix(i);
                if (m.Format != m0.Format || m.Rows != m0.Rows || m.Cols != m0.Cols)
                {
                    throw new ArgumentException($"'{name}': stacked matrices differ in format or shape");
                }

                (DeviceMatrixPart part, int local) = stacked.Locate(first + i);
                part.Write(m, local);
            }

            return stacked;
        }
        catch
        {
            foreach (DeviceMatrixPart part in made)
            {
                part.Buffer.Dispose();
            }

            throw;
        }
    }

    public static DeviceMatrix Upload(GpuContext context, string name, QuantizedMatrix matrix) => Upload(context, name, [matrix]);

    internal static ulong RoundUp(ulong n) => (n + Align - 1) / Align * Align;

    public void Dispose()
    {
        foreach (DeviceMatrixPart part in _parts)
        {
            part.Buffer.Dispose();
        }
    }
}

/// <summary>Matrices <see cref="First"/> .. <see cref="First"/> + <see cref="Count"/> - 1 of a
/// <see cref="DeviceMatrix"/> stack, in one buffer: the quants, then the scales and zero points, each one view.</summary>
public sealed class DeviceMatrixPart
{
    private readonly TexelView[] _tables;
    private readonly BindingResource[] _bindings;

    private DeviceMatrixPart(GpuBuffer buffer, int first, int count, TexelView[] tables)
    {
        Buffer = buffer;
        First = first;
        Count = count;
        _tables = tables;
        _bindings = [.. tables];
    }

    public GpuBuffer Buffer { get; }

    /// <summary>The stack index of the part's first matrix.</summary>
    public int First { get; }
    public int Count { get; }
    public TexelView Quants => _tables[0];
    public TexelView? Scales => _tables.Length > 1 ? _tables[1] : null;
    public TexelView? Zeros => _tables.Length > 2 ? _tables[2] : null;

    /// <summary>The part's texel views, in shader order (shaders/include/weights.glsl).</summary>
    public ReadOnlySpan<BindingResource> Tables => _bindings;

    public ulong ViewBytes => _tables.Aggregate(0UL, (sum, t) => sum + t.Bytes);

    internal static DeviceMatrixPart Create(GpuContext context, string name, WeightFormatSpec spec, int rows, int cols, int first, int count)
    {
        ulong total = 0;
        for (int t = 0; t < spec.Tables().Count; t++)
        {
            total += DeviceMatrix.RoundUp(DeviceMatrix.TableBytes(spec, rows, cols, t) * (ulong)count);
        }

        GpuBuffer buffer = context.CreateBuffer(total, name);
        try
        {
            var tables = new TexelView[spec.Tables().Count];
            ulong at = 0;
            for (int t = 0; t < tables.Length; t++)
            {
                tables[t] = buffer.View(spec.Tables()[t], at, DeviceMatrix.TableBytes(spec, rows, cols, t) * (ulong)count);
                at += DeviceMatrix.RoundUp(tables[t].Bytes);
            }

            return new DeviceMatrixPart(buffer, first, count, tables);
        }
        catch
        {
            buffer.Dispose();
            throw;
        }
    }

    // Writes matrix `local` of the part.
    internal void Write(QuantizedMatrix m, int local)
    {
        Buffer.Write<byte>(m.Quants, Quants.Offset + (ulong)m.Quants.Length * (ulong)local);
        if (Scales is TexelView scales)
        {
            Buffer.Write<Half>(m.Scales, scales.Offset + (ulong)m.Scales.Length * 2 * (ulong)local);
        }

        if (Zeros is TexelView zeros)
        {
            Buffer.Write<byte>(m.Zeros, zeros.Offset + (ulong)m.Zeros.Length * (ulong)local);
        }
    }
}
