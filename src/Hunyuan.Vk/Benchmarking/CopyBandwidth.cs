using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Benchmarking;

/// <summary>
/// The device's own memory bandwidth, measured with buffer copies timed by GPU timestamps: read plus write traffic
/// (twice the bytes copied) over the best time of several copies, in GB/s. The yardstick for kernel bandwidth.
/// </summary>
public static class CopyBandwidth
{
    public static double Measure(GpuContext context, ulong bytes = 256UL << 20, int repetitions = 5)
    {
        ArgumentNullException.ThrowIfNull(context);
        bytes = Math.Min(bytes, context.Info.Limits.MaxBufferSize / 2);
        using GpuBuffer source = context.CreateBuffer(bytes, "bandwidth source"), destination = context.CreateBuffer(bytes, "bandwidth destination");
        using TimestampPool stamps = context.CreateTimestamps(2);
        using CommandRecorder r = context.CreateRecorder();
        r.Begin();
        r.Fill(source, 0, bytes, 0x3F800000);   // touch the memory before timing
        r.Fill(destination, 0, bytes, 0);
        r.End();
        r.SubmitAndWait();
        r.Begin();
        r.ResetTimestamps(stamps);
        r.WriteTimestamp(stamps, 0);
        r.Copy(source, 0, destination, 0, bytes);
        r.WriteTimestamp(stamps, 1);
        r.End();
        double best = double.MaxValue;
        Span<double> ns = stackalloc double[1];
        for (int i = 0; i < repetitions; i++)
        {
            r.SubmitAndWait();
            stamps.ReadIntervals(ns);
            best = Math.Min(best, ns[0]);
        }

        return 2.0 * bytes / best;   // bytes per nanosecond = GB/s
    }
}
