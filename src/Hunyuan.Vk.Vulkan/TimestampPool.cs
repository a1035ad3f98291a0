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

    /// <summary>Reads timestamps 0..n-1 (waiting for them) as nanoseconds since an arbitrary origin.</summary>
    public void ReadNanoseconds(Span<double> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int n = Math.Min(destination.Length, (int)Count);
        Span<ulong> ticks = stackalloc ulong[n];
        fixed (ulong* p = ticks)
        {
            VulkanException.Check(
                _context.Api.GetQueryPoolResults(_context.Device, Handle, 0, (uint)n, (nuint)(n * 8), p, 8,
                    QueryResultFlags.Result64Bit | QueryResultFlags.ResultWaitBit),
                "vkGetQueryPoolResults");
        }

        double period = _context.Info.Limits.TimestampPeriod;
        for (int i = 0; i < n; i++)
        {
            destination[i] = ticks[i] * period;
        }
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
