namespace Hunyuan.Vk.Vulkan;

/// <summary>
/// Per-dispatch GPU timing of one recording: with <see cref="CommandRecorder.Profile"/> set, the recorder writes a
/// timestamp before the first dispatch and after each one, and notes each dispatch's pipeline and the bytes its
/// kernel declared. The time of dispatch i is the gap between timestamps i and i+1 (exact when a barrier separates
/// dispatches, as in the decode step; overlapping ones share the gap).
/// </summary>
public sealed class DispatchProfile : IDisposable
{
    private readonly TimestampPool _pool;
    private readonly string[] _names;
    private readonly ulong[] _streamedBytes;
    private readonly double[] _intervals;

    public DispatchProfile(GpuContext context, int capacity)
    {
        ArgumentNullException.ThrowIfNull(context);
        _pool = context.CreateTimestamps((uint)capacity + 1);
        _names = new string[capacity];
        _streamedBytes = new ulong[capacity];
        _intervals = new double[capacity];
    }

    /// <summary>The entry for a wait at a host hand-off (<see cref="CommandRecorder.WaitHost"/>): the device's time
    /// from its last dispatch to the host's release, not a dispatch.</summary>
    public const string HostWait = "(waits for the host)";

    /// <summary>Dispatches (and host waits) profiled in the last recording (at most the capacity).</summary>
    public int Count { get; private set; }

    internal TimestampPool Pool => _pool;

    internal bool Full => Count == _names.Length;

    internal void Reset() => Count = 0;

    internal void Add(string pipeline)
    {
        _streamedBytes[Count] = 0;
        _names[Count++] = pipeline;
    }

    internal void AddStreamedBytes(ulong bytes)
    {
        if (Count > 0)
        {
            _streamedBytes[Count - 1] += bytes;
        }
    }

    /// <summary>Waits for the timestamps of the last submit and returns each dispatch: pipeline, GPU time, bytes streamed.</summary>
    public IReadOnlyList<DispatchTiming> Read()
    {
        _pool.ReadIntervals(_intervals.AsSpan(0, Count));
        var result = new DispatchTiming[Count];
        for (int i = 0; i < Count; i++)
        {
            result[i] = new DispatchTiming(_names[i], _intervals[i] / 1e6, _streamedBytes[i]);
        }

        return result;
    }

    public void Dispose() => _pool.Dispose();
}

/// <summary>One profiled dispatch: its pipeline, its GPU time in milliseconds, and the bytes it declared it streams.</summary>
public readonly record struct DispatchTiming(string Pipeline, double Milliseconds, ulong StreamedBytes);
