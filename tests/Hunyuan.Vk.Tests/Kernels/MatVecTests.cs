using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

public sealed class MatVecTests : VulkanTest
{
    // The reference multiplies the very values the device stores (dequantized), so only the order of f32 additions
    // differs (~1e-12 NMSE). The design's 5e-4 for matmul would let a kernel that drops a whole 32-block of a 4096 row
    // pass; 1e-6 would not.
    private const double Limit = 1e-6;

    private static MatVecKernel Kernel(WeightFormat format, int cols) =>
        Gpu.Kernel<MatVecHolder>((c, t) => new MatVecHolder(c, t)).Get(format, (uint)cols);

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (WeightFormat f in Enum.GetValues<WeightFormat>())
        {
            // Every width a multiple of 128, so Q4Z (a group of 128) runs them all.
            foreach ((int rows, int cols) in new[] { (1, 128), (37, 256), (130, 1024), (1000, 4096) })
            {
                yield return new TestCaseData(f, rows, cols).SetName($"{f} {rows}x{cols}");
            }
        }

        yield return new TestCaseData(WeightFormat.Q4, 3, 32).SetName("Q4 3x32");
        yield return new TestCaseData(WeightFormat.F16, 5, 96).SetName("F16 5x96");
    }

    [TestCaseSource(nameof(Cases))]
    public void Matches_reference(WeightFormat format, int rows, int cols)
    {
        QuantizedMatrix q = Matrix(format, rows, cols, seed: rows + cols);
        float[] x = TestData.Uniform(cols, cols);
        var expected = new float[rows];
        ModelOps.MatVec<float>(q.Dequantize(), x, expected);

        using DeviceMatrix w = DeviceMatrix.Upload(Context, "W", q);
        using GpuBuffer gx = Upload(x, "x");
        using var y = new GuardedOutput(Context, rows, "y");
        MatVecKernel kernel = Kernel(format, cols);
        Context.Run(r => kernel.Record(r, w, gx.All, y.Range));

        AssertNmse.Close(expected, y.Read(), Limit, $"matvec {format} {rows}x{cols}");
    }

    [TestCase(WeightFormat.Q4)]
    [TestCase(WeightFormat.Q4Z)]
    [TestCase(WeightFormat.F16)]
    public void Stacked_matrix_by_index_accumulating_at_an_offset(WeightFormat format)
    {
        const int Rows = 40, Cols = 256, Count = 3, Offset = 7;
        QuantizedMatrix[] stack = [.. Enumerable.Range(0, Count).Select(i => Matrix(format, Rows, Cols, seed: 50 + i))];
        float[] x = TestData.Uniform(9, Cols);
        float[] start = TestData.Uniform(10, Rows + Offset);
        var product = new float[Rows];
        ModelOps.MatVec<float>(stack[2].Dequantize(), x, product);
        float[] expected = [.. start];
        for (int r = 0; r < Rows; r++)
        {
            expected[Offset + r] += product[r];
        }

        using DeviceMatrix w = DeviceMatrix.Upload(Context, "W stack", stack);
        using GpuBuffer gx = Upload(x, "x"), y = Upload(start, "y");
        Context.Run(r => Kernel(format, Cols).Record(r, w, gx.All, y.All, accumulate: true, yOffset: Offset, index: 2));
        var actual = new float[Rows + Offset];
        y.Read<float>(actual);
        AssertNmse.Close(expected, actual, Limit, $"{format} stack[2] accumulated at {Offset}");
        Assert.That(actual[..Offset], Is.EqualTo(start[..Offset]), "elements before the offset untouched");
    }

    [Test]
    public void A_matrix_of_the_wrong_format_is_refused()
    {
        using DeviceMatrix w = DeviceMatrix.Upload(Context, "W", Matrix(WeightFormat.Q8, 4, 32, 1));
        using GpuBuffer x = Context.CreateBuffer(128, "x"), y = Context.CreateBuffer(16, "y");
        Assert.That(() => Context.Run(r => Kernel(WeightFormat.Q4, 32).Record(r, w, x.All, y.All)),
            Throws.ArgumentException.With.Message.Contains("reads Q4; the matrix is Q8"));
    }

    /// <summary>A random matrix in a format; Q4Z built as GPTQ stores it (group 128, zero point 8 +- a little).</summary>
    internal static QuantizedMatrix Matrix(WeightFormat format, int rows, int cols, int seed)
    {
        float[] w = TestData.Uniform(seed, rows * cols, scale: 0.5f);
        if (format != WeightFormat.Q4Z)
        {
            return Quantizer.Quantize(w, rows, cols, format);
        }

        QuantizedMatrix q4 = Quantizer.Quantize(w, rows, cols, WeightFormat.Q4);
        var random = new Random(seed);
        int groups = rows * cols / 128;
        Half[] scales = [.. Enumerable.Range(0, groups).Select(_ => (Half)(0.01f + random.NextSingle() * 0.05f))];
        byte[] zeros = [.. Enumerable.Range(0, groups).Select(_ => (byte)random.Next(6, 11))];
        return new QuantizedMatrix(WeightFormat.Q4Z, rows, cols, q4.Quants, scales, zeros);
    }

    /// <summary>One kernel per (format, cols) for the run.</summary>
    private sealed class MatVecHolder(GpuContext context, DeviceTuning tuning) : IDisposable
    {
        private readonly Dictionary<(WeightFormat, uint), MatVecKernel> _kernels = [];

        public MatVecKernel Get(WeightFormat format, uint cols)
        {
            uint key = tuning.MatVecSharedX ? cols : 0;   // x staging size is part of the pipeline only when used
            if (!_kernels.TryGetValue((format, key), out MatVecKernel? k))
            {
                _kernels[(format, key)] = k = new MatVecKernel(context, tuning, format, cols);
            }

            return k;
        }

        public void Dispose()
        {
            foreach (MatVecKernel k in _kernels.Values)
            {
                k.Dispose();
            }
        }
    }
}
