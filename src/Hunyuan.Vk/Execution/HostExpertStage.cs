using System.Diagnostics;
using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// The hand-off between the device and the CPU for layers whose routed experts are in host memory. In the recording,
/// per such layer: the device copies the normed x and the routing into a host-visible buffer and signals (the layer's
/// hand-off point), runs the shared expert, then waits; on the host, <see cref="Serve"/> takes each point in turn,
/// computes the routed experts into the other host-visible buffer and releases the device, which adds them to h.
/// One submit per step or chunk still; a host layer costs one device-to-host and one host-to-device round trip.
/// On a CPU device (lavapipe) the device's shaders run on the same cores as the host's experts, so there the device
/// waits at the hand-off and runs the shared expert after (<see cref="Overlaps"/> false): the two would only slow each
/// other down.
/// </summary>
internal sealed class HostExpertStage : IDisposable
{
    private readonly HunyuanConfig _c;
    private readonly HostExperts _experts;
    private readonly WorkerPool _pool;
    private readonly GpuBuffer _in;      // [tokens][hidden] f32 x, then [tokens] struct Route
    private readonly GpuBuffer _out;     // [tokens][hidden] f32: the routed experts' sum
    private readonly uint[] _routes;
    private readonly ulong _routesAt;

    /// <summary>Host-visible device bytes of the hand-off buffers for <paramref name="maxTokens"/> tokens: x and the
    /// routes in, the routed experts' sum out.</summary>
    public static long HandOffBytes(HunyuanConfig c, int maxTokens) => InBytes(c, maxTokens) + OutBytes(c, maxTokens);

    // In: x [tokens][hidden] f32, then the routes; out: the routed experts' sum [tokens][hidden] f32.
    private static long OutBytes(HunyuanConfig c, int maxTokens) => (long)maxTokens * c.HiddenSize * 4;

    private static long InBytes(HunyuanConfig c, int maxTokens) => OutBytes(c, maxTokens) + maxTokens * (long)MoeRoute.Bytes;

    public HostExpertStage(GpuContext context, HunyuanConfig c, int maxTokens, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(context);
        _c = c;
        Overlaps = context.Info.Type != "cpu";
        _routesAt = (ulong)OutBytes(c, maxTokens);   // the routes follow x in the in buffer
        _routes = new uint[maxTokens * (int)(MoeRoute.Bytes / 4)];
        _experts = new HostExperts(c.HiddenSize, c.ExpertIntermediate, c.RouteSlots, maxTokens, c.StackedExperts);
        _pool = new WorkerPool(threads);
        try
        {
            _in = context.CreateHostBuffer((ulong)InBytes(c, maxTokens), "host experts in (x, routes)");
            _out = context.CreateHostBuffer((ulong)OutBytes(c, maxTokens), "host experts out");
        }
        catch
        {
            _in?.Dispose();
            _pool.Dispose();
            throw;
        }
    }

    /// <summary>Whether the device runs the shared expert while the host computes (not on a CPU device).</summary>
    public bool Overlaps { get; }

    /// <summary>CPU threads computing the experts.</summary>
    public int Threads => _pool.Threads;

    /// <summary>Host time of the last <see cref="Serve"/>: computing, and waiting for the device to reach each point.</summary>
    public TimeSpan Compute { get; private set; }

    public TimeSpan WaitedForDevice { get; private set; }

    /// <summary>Bytes of expert weights the last <see cref="Serve"/> read (each chosen expert once per layer).</summary>
    public long WeightBytes { get; private set; }

    /// <summary>Records the copy of <paramref name="x"/> and <paramref name="routes"/> of <paramref name="tokens"/>
    /// tokens to the host and the signal (and the wait, without <see cref="Overlaps"/>); returns the hand-off point.</summary>
    public int RecordHandOff(CommandRecorder r, GpuBuffer x, GpuBuffer routes, uint tokens)
    {
        r.Copy(x, 0, _in, 0, tokens * (ulong)_c.HiddenSize * 4);
        r.Copy(routes, 0, _in, _routesAt, tokens * MoeRoute.Bytes);
        int point = r.SignalHost();
        if (!Overlaps)
        {
            r.WaitHost(point);
        }

        return point;
    }

    /// <summary>Records the wait for the host's part of <paramref name="point"/> (with <see cref="Overlaps"/>) and h += it.</summary>
    public void RecordReturn(CommandRecorder r, BinaryOpKernel add, int point, GpuBuffer h, uint tokens)
    {
        if (Overlaps)
        {
            r.WaitHost(point);
        }

        ulong bytes = tokens * (ulong)_c.HiddenSize * 4;
        add.Record(r, h.Slice(0, bytes), _out.Slice(0, bytes), h.Slice(0, bytes), tokens * (uint)_c.HiddenSize);
    }

    /// <summary>After the submit of <paramref name="r"/>: the host's part of every hand-off, in order; point i is host
    /// layer i of <paramref name="model"/>.</summary>
    public void Serve(CommandRecorder r, DeviceModel model, int tokens)
    {
        TimeSpan compute = TimeSpan.Zero, waited = TimeSpan.Zero;
        long bytes = 0;
        int hidden = _c.HiddenSize, slots = _c.RouteSlots, routeUints = (int)(MoeRoute.Bytes / 4);
        for (int point = 0; point < r.HostPoints; point++)
        {
            HostExpertLayer layer = model.Host(point) ?? throw new InvalidOperationException($"hand-off {point} has no host layer");
            long start = Stopwatch.GetTimestamp();
            r.AwaitDevice(point);
            long ready = Stopwatch.GetTimestamp();
            _in.Read<float>(_experts.X.AsSpan(0, tokens * hidden));
            _in.Read<uint>(_routes.AsSpan(0, tokens * routeUints), _routesAt);
            for (int t = 0; t < tokens; t++)
            {
                for (int s = 0; s < slots; s++)
                {
                    // struct Route: ids[capacity], then weights[capacity]
                    _experts.RouteIds[t * slots + s] = (int)_routes[t * routeUints + s];
                    _experts.RouteWeights[t * slots + s] = BitConverter.UInt32BitsToSingle(_routes[t * routeUints + MoeRoute.Capacity + s]);
                }
            }

            _experts.Compute(_pool, layer, tokens);
            _out.Write<float>(_experts.Y.AsSpan(0, tokens * hidden));
            r.Release(point);
            waited += Stopwatch.GetElapsedTime(start, ready);
            compute += Stopwatch.GetElapsedTime(ready);
            bytes += _experts.ExpertsRead * layer.BytesPerExpert;
        }

        (Compute, WaitedForDevice, WeightBytes) = (compute, waited, bytes);
    }

    public void Dispose()
    {
        _in.Dispose();
        _out.Dispose();
        _pool.Dispose();
    }
}
