using Silk.NET.Vulkan;

namespace Hunyuan.Vk.Vulkan;

/// <summary>GPU timestamps: written by <see cref="CommandRecorder.WriteTimestamp"/>, read here in nanoseconds.</summary>
public sealed unsafe class TimestampPool : IDisposable
{
    private readonly GpuContext _context;
    private bool _disposed;

    internal QueryPool Handle { get; }
    public uint Count { get; }

    internal TimestampPool(GpuContext context, uint count)
    {
        if (!context.Info.Features.Timestamps)
        {
            throw new VulkanException($"{context.Info.Name} has no timestamps on its compute queue");
        }

        _context = context;
        Count = count;
        var info = new QueryPoolCreateInfo { SType = StructureType.QueryPoolCreateInfo, QueryType = QueryType.Timestamp, QueryCount = count };
        QueryPool pool;
        VulkanException.Check(context.Api.CreateQueryPool(context.Device, &info, null, &pool), "vkCreateQueryPool");
        Handle = pool;
    }

    /// <summary>Waits for timestamps 0..n and writes the n intervals between consecutive ones, in nanoseconds.</summary>
    public void ReadIntervals(Span<double> nanoseconds)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = Math.Min(nanoseconds.Length + 1, (int)Count);
        Span<ulong> ticks = stackalloc ulong[n];
        fixed (ulong* p = ticks)
        {
            VulkanException.Check(
                _context.Api.GetQueryPoolResults(_context.Device, Handle, 0, (uint)n, (nuint)(n * 8), p, 8,
                    QueryResultFlags.Result64Bit | QueryResultFlags.ResultWaitBit),
                "vkGetQueryPoolResults");
        }

        DeviceLimits limits = _context.Info.Limits;
        for (int i = 0; i + 1 < n; i++)
        {
            nanoseconds[i] = Interval(ticks[i], ticks[i + 1], limits.TimestampValidBits, limits.TimestampPeriod);
        }
    }

    /// <summary>
    /// Nanoseconds from timestamp <paramref name="from"/> to <paramref name="to"/>: only the low
    /// <paramref name="validBits"/> bits of a timestamp are defined, so both are masked and subtracted as integers
    /// (a counter that wrapped in between still gives the right interval), then scaled by the tick period.
    /// </summary>
    public static double Interval(ulong from, ulong to, uint validBits, double period)
    {
        ulong mask = validBits >= 64 ? ulong.MaxValue : (1UL << (int)validBits) - 1;
        return ((to - from) & mask) * period;
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _context.Api.DestroyQueryPool(_context.Device, Handle, null);
        }
    }
}
