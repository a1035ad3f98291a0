using System.Diagnostics;
using System.Runtime.Intrinsics;
using Hunyuan.Vk.HostCompute;

namespace Hunyuan.Vk.Benchmarking;

/// <summary>
/// The host's memory read bandwidth as the host experts see it: the threads of a <see cref="WorkerPool"/> summing a
/// buffer far larger than the caches, each its own contiguous share, best of several passes, in GB/s of bytes read.
/// The yardstick for the CPU experts' bytes per token.
/// </summary>
public static class HostBandwidth
{
    public static double Measure(long bytes = 512L << 20, int repetitions = 4, int threads = 0)
    {
        var data = new Vector256<float>[bytes / 32];
        for (int i = 0; i < data.Length; i += 128)
        {
            data[i] = Vector256.Create(1f);   // touch every page before timing
        }

        using var pool = new WorkerPool(threads);
        var sums = new float[pool.Threads * 16];
        void Read(int thread)
        {
            long per = data.Length / pool.Threads, start = thread * per, end = thread == pool.Threads - 1 ? data.Length : start + per;
            Vector256<float> a = Vector256<float>.Zero, b = a, c = a, d = a;
            long i = start;
            for (; i + 4 <= end; i += 4)
            {
                a += data[i];
                b += data[i + 1];
                c += data[i + 2];
                d += data[i + 3];
            }

            sums[thread * 16] = Vector256.Sum(a + b + c + d);   // kept, so the reads are not optimised away
        }

        double best = double.MaxValue;
        for (int r = 0; r <= repetitions; r++)
        {
            long start = Stopwatch.GetTimestamp();
            pool.Run(Read);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            best = r == 0 ? best : Math.Min(best, seconds);   // the first pass warms the threads and the code
        }

        GC.KeepAlive(sums);
        return bytes / best / 1e9;
    }
}
