using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Vulkan;

/// <summary>
/// The host computes in the middle of a submit (<see cref="CommandRecorder.SignalHost"/>/<see cref="CommandRecorder.WaitHost"/>):
/// what the device wrote before a signal point is what the host reads, the device runs on past it, and what the host
/// writes before releasing a wait point is what the device reads after it. Validation-clean, as every Vulkan test.
/// </summary>
public sealed class HostHandOffTests : VulkanTest
{
    private const int N = 3000;

    private static BinaryOpKernel Add => Gpu.Kernel((c, t) => new AddHolder(c, t)).Kernel;

    [Test]
    public void The_host_reads_the_devices_writes_and_the_device_reads_the_hosts()
    {
        float[] a = TestData.Uniform(1, N), b = TestData.Uniform(2, N);
        using GpuBuffer ga = Upload(a, "a"), gb = Upload(b, "b"), sum = Context.CreateBuffer(N * 4, "a+b"), other = Context.CreateBuffer(N * 4, "b+b");
        using GpuBuffer toHost = Context.CreateHostBuffer(N * 4, "to host"), fromHost = Context.CreateHostBuffer(N * 4, "from host");
        using var output = new GuardedOutput(Context, N, "out");
        using CommandRecorder r = Context.CreateRecorder();

        // Two submits of the same recording: the second's points follow the first's on the timeline.
        for (int round = 0; round < 2; round++)
        {
            r.Begin();
            Add.Record(r, ga.All, gb.All, sum.All, N);
            r.Copy(sum, 0, toHost, 0, N * 4);
            int point = r.SignalHost();
            Add.Record(r, gb.All, gb.All, other.All, N);      // runs while the host works
            r.WaitHost(point);
            Add.Record(r, fromHost.All, other.All, output.Range, N);
            r.End();
            Assert.That((r.HostPoints, r.Batches), Is.EqualTo((1, 3)));

            r.Submit();
            r.AwaitDevice(point);
            var seen = new float[N];
            toHost.Read<float>(seen);
            float scale = round + 2;
            fromHost.Write<float>(seen.Select(v => v * scale).ToArray());
            r.Release(point);
            r.Wait();

            float[] expected = [.. Enumerable.Range(0, N).Select(i => (a[i] + b[i]) * scale + (b[i] + b[i]))];
            AssertNmse.Close(expected, output.Read(), 1e-12, $"round {round}");
        }
    }

    [Test]
    public void A_point_the_host_never_releases_does_not_hold_the_device()
    {
        using GpuBuffer ga = Upload(TestData.Uniform(3, N), "a"), host = Context.CreateHostBuffer(N * 4, "host");
        using var output = new GuardedOutput(Context, N, "out");
        using CommandRecorder r = Context.CreateRecorder();
        r.Begin();
        int first = r.SignalHost();
        r.WaitHost(first);
        int second = r.SignalHost();
        r.WaitHost(second);
        Add.Record(r, ga.All, host.All, output.Range, N);
        r.End();
        r.Submit();
        r.AwaitDevice(first);
        r.Release(first);
        // The host's work for the second point failed: Wait releases it and the submit completes.
        Assert.That(() => r.Wait(), Throws.Nothing);
        Assert.Throws<InvalidOperationException>(() => r.Release(second), "nothing is pending any more");
    }

    [Test]
    public void Points_are_released_in_order()
    {
        using CommandRecorder r = Context.CreateRecorder();
        r.Begin();
        int first = r.SignalHost();
        Assert.Throws<InvalidOperationException>(() => r.SignalHost(), "the device would signal past a value the host has yet to signal");
        r.WaitHost(first);
        int second = r.SignalHost();
        r.WaitHost(second);
        r.End();
        r.Submit();
        r.AwaitDevice(first);
        Assert.Throws<InvalidOperationException>(() => r.Release(second));
        r.Release(first);
        r.AwaitDevice(second);
        r.Release(second);
        r.Wait();
    }

    private sealed class AddHolder(GpuContext c, DeviceTuning t) : IDisposable
    {
        public BinaryOpKernel Kernel { get; } = new(c, t, BinaryOp.Add);

        public void Dispose() => Kernel.Dispose();
    }
}
