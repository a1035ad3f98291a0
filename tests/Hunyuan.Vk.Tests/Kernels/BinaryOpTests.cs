using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

public sealed class BinaryOpTests : VulkanTest
{
    // Elementwise f32: the GPU computes the same single rounding as C#, so the design's 1e-7 limit has wide margin.
    private const double Limit = 1e-7;

    private static BinaryOpKernel Kernel(BinaryOp op) => op == BinaryOp.Add
        ? Gpu.Kernel((c, t) => new AddKernelHolder(c, t)).Kernel
        : Gpu.Kernel((c, t) => new MultiplyKernelHolder(c, t)).Kernel;

    [TestCase("Add", 1)]
    [TestCase("Add", 63)]
    [TestCase("Add", 1000)]
    [TestCase("Multiply", 7)]
    [TestCase("Multiply", 100_003)]
    // More elements than the grid's maximum x groups cover at once: exercises the grid-stride loop.
    [TestCase("Add", 4_200_017)]
    public void Matches_reference(string opName, int n)
    {
        BinaryOp op = Enum.Parse<BinaryOp>(opName);   // by name: the kernel types are internal to the engine
        float[] a = TestData.Uniform(seed: 1 + n, n);
        float[] b = TestData.Uniform(seed: 2 + n, n);
        var expected = new float[n];
        if (op == BinaryOp.Add)
        {
            Ops.Add(a, b, expected);
        }
        else
        {
            Ops.Multiply(a, b, expected);
        }

        using GpuBuffer ga = Upload(a, "a"), gb = Upload(b, "b");
        using var c = new GuardedOutput(Context, n, "c");
        BinaryOpKernel kernel = Kernel(op);
        Context.Run(r => kernel.Record(r, ga.All, gb.All, c.Range, (uint)n));

        AssertNmse.Close(expected, c.Read(), Limit, $"{op} n={n}");
    }

    [Test]
    public void Chained_ops_see_each_others_writes_through_a_tracked_barrier()
    {
        const int N = 5000;
        float[] a = TestData.Uniform(10, N), b = TestData.Uniform(11, N);
        var sum = new float[N];
        var expected = new float[N];
        Ops.Add(a, b, sum);
        Ops.Multiply(sum, b, expected);

        using GpuBuffer ga = Upload(a, "a"), gb = Upload(b, "b"), tmp = Context.CreateBuffer(N * 4, "a+b");
        using var c = new GuardedOutput(Context, N, "(a+b)*b");
        int barriers = -1;
        Context.Run(r =>
        {
            Kernel(BinaryOp.Add).Record(r, ga.All, gb.All, tmp.All, N);
            Kernel(BinaryOp.Multiply).Record(r, tmp.All, gb.All, c.Range, N);   // reads what the add wrote
            barriers = r.BarrierCount;
        });

        Assert.That(barriers, Is.EqualTo(1), "one read-after-write hazard, one barrier");
        AssertNmse.Close(expected, c.Read(), Limit, "(a+b)*b");
    }

    [Test]
    public void Barriers_go_only_where_a_hazard_is()
    {
        const int N = 256;
        using GpuBuffer ga = Upload(TestData.Uniform(12, N), "a"), gb = Upload(TestData.Uniform(13, N), "b");
        using GpuBuffer out1 = Context.CreateBuffer(N * 4 * 2, "out"), out2 = Context.CreateBuffer(N * 4, "out2");
        BufferRange low = out1.Slice(0, N * 4), high = out1.Slice(N * 4, N * 4);
        var counts = new List<int>();
        Context.Run(r =>
        {
            BinaryOpKernel add = Kernel(BinaryOp.Add), mul = Kernel(BinaryOp.Multiply);
            add.Record(r, ga.All, gb.All, low, N);
            mul.Record(r, ga.All, gb.All, high, N);        // same inputs, other bytes of the same buffer: independent
            counts.Add(r.BarrierCount);
            add.Record(r, low, gb.All, out2.All, N);        // reads low: read after write
            counts.Add(r.BarrierCount);
            mul.Record(r, ga.All, gb.All, low, N);          // writes low, which the last op read: write after read
            counts.Add(r.BarrierCount);
            mul.Record(r, high, high, out2.All, N);         // touches nothing used since that barrier: no barrier
            counts.Add(r.BarrierCount);
            r.Copy(out2, 0, low.Buffer, 0, 16);             // reads out2 (written just now) and writes low: barrier
            counts.Add(r.BarrierCount);
        });

        Assert.That(counts, Is.EqualTo(new[] { 0, 1, 2, 2, 3 }));
    }

    [Test]
    public void Too_small_a_buffer_is_refused_with_its_name()
    {
        using GpuBuffer small = Context.CreateBuffer(16, "small");
        using GpuBuffer big = Context.CreateBuffer(64, "big");
        var e = Assert.Throws<ArgumentException>(() => Context.Run(r => Kernel(BinaryOp.Add).Record(r, small.All, big.All, big.All, 16)));
        Assert.That(e!.Message, Does.Contain("'small'").And.Contain("binary_op"));
    }

    // Distinct holder types so the per-run kernel cache keeps one add and one multiply pipeline.
    private sealed class AddKernelHolder(GpuContext c, DeviceTuning t) : IDisposable
    {
        public BinaryOpKernel Kernel { get; } = new(c, t, BinaryOp.Add);

        public void Dispose() => Kernel.Dispose();
    }

    private sealed class MultiplyKernelHolder(GpuContext c, DeviceTuning t) : IDisposable
    {
        public BinaryOpKernel Kernel { get; } = new(c, t, BinaryOp.Multiply);

        public void Dispose() => Kernel.Dispose();
    }
}
