using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

public sealed class MatMulTests : VulkanTest
{
    // As for matvec: the reference uses the stored (dequantized) weights, so only summation order differs.
    private const double Limit = 1e-6;

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (WeightFormat f in Enum.GetValues<WeightFormat>())
        {
            yield return new TestCaseData(f, 37, 256, 1).SetName($"{f} 37x256, 1 token");
            yield return new TestCaseData(f, 130, 128, 17).SetName($"{f} 130x128, 17 tokens");
        }

        yield return new TestCaseData(WeightFormat.Q4, 1000, 4096, 9).SetName("Q4 1000x4096, 9 tokens");
        yield return new TestCaseData(WeightFormat.Q4Z, 300, 1024, 64).SetName("Q4Z 300x1024, 64 tokens");
    }

    [TestCaseSource(nameof(Cases))]
    public void Matches_reference(WeightFormat format, int rows, int cols, int tokens) => MatchesReference(Gpu.Tuning, format, rows, cols, tokens);

    [TestCaseSource(nameof(Cases))]
    public void Matches_reference_with_the_gpu_rows_weight_tiles(WeightFormat format, int rows, int cols, int tokens)
    {
        // The GPU rows' prefill shape on whatever device runs the tests: 128 rows x 16 tokens, W staged 4 texels a row at
        // a time (partial tiles at the rows' end and where a row has fewer blocks than a tile).
        DeviceTuning tiled = Gpu.Tuning with { MatMulWorkgroup = 64, MatMulRows = 2, MatMulTokens = 16, MatMulTileW = true };
        Assert.That(MatMulKernel.TilesW(tiled, Context.Info.Limits, format), Is.True, "the tile fits this device");
        MatchesReference(tiled, format, rows, cols, tokens);
    }

    [Test]
    public void Weight_tiles_that_do_not_fit_shared_memory_fall_back_to_direct_reads()
    {
        DeviceTuning tiled = Gpu.Tuning with { MatMulWorkgroup = 64, MatMulRows = 2, MatMulTokens = 16, MatMulTileW = true };
        DeviceLimits small = Context.Info.Limits with { MaxComputeSharedMemory = 12 * 1024 };
        Assert.That(MatMulKernel.TilesW(tiled, Context.Info.Limits, WeightFormat.Q4), Is.True);
        Assert.That(MatMulKernel.TilesW(tiled, small, WeightFormat.Q4), Is.False, "Q4's 16 KiB of tiles exceed 12 KiB");
        using GpuContext limited = Gpu.Instance.CreateContext(Context.Info.Index, tighten: l => l with { MaxComputeSharedMemory = 12 * 1024 });
        QuantizedMatrix q = MatVecTests.Matrix(WeightFormat.Q4, 100, 512, seed: 9);
        float[] x = TestData.Uniform(3, 5 * 512);
        var expected = new float[5 * 100];
        for (int t = 0; t < 5; t++)
        {
            ModelOps.MatVec<float>(q.Dequantize(), x.AsSpan(t * 512, 512), expected.AsSpan(t * 100, 100));
        }

        using DeviceMatrix dw = DeviceMatrix.Upload(limited, "W", q);
        using GpuBuffer gx = limited.CreateBuffer((ulong)x.Length * 4, "X"), gy = limited.CreateBuffer(500 * 4, "Y");
        gx.Write<float>(x);
        using var kernel = new MatMulKernel(limited, tiled, WeightFormat.Q4);
        limited.Run(r => kernel.Record(r, dw, gx.All, gy.All, 5));
        var y = new float[500];
        gy.Read<float>(y);
        AssertNmse.Close(expected, y, Limit, "the untiled fallback");
    }

    private static void MatchesReference(DeviceTuning tuning, WeightFormat format, int rows, int cols, int tokens)
    {
        QuantizedMatrix q = MatVecTests.Matrix(format, rows, cols, seed: rows * 3 + cols);
        float[] w = q.Dequantize();
        float[] x = TestData.Uniform(tokens, tokens * cols);
        var expected = new float[tokens * rows];
        for (int t = 0; t < tokens; t++)
        {
            ModelOps.MatVec<float>(w, x.AsSpan(t * cols, cols), expected.AsSpan(t * rows, rows));
        }

        using DeviceMatrix dw = DeviceMatrix.Upload(Context, "W", q);
        using GpuBuffer gx = Upload(x, "X");
        using var y = new GuardedOutput(Context, tokens * rows, "Y");
        using var kernel = new MatMulKernel(Context, tuning, format);
        Context.Run(r => kernel.Record(r, dw, gx.All, y.Range, (uint)tokens));
        AssertNmse.Close(expected, y.Read(), Limit, $"matmul {format} {rows}x{cols} x {tokens} tokens");
    }

    [Test]
    public void Accumulates_into_y_and_agrees_with_matvec()
    {
        const int Rows = 64, Cols = 256, Tokens = 3;
        QuantizedMatrix q = MatVecTests.Matrix(WeightFormat.Q8, Rows, Cols, seed: 5);
        float[] x = TestData.Uniform(6, Tokens * Cols);
        float[] start = TestData.Uniform(7, Tokens * Rows);
        using DeviceMatrix w = DeviceMatrix.Upload(Context, "W", q);
        using GpuBuffer gx = Upload(x, "X"), mm = Upload(start, "Y matmul"), mv = Upload(start, "Y matvec");
        using var matmul = new MatMulKernel(Context, Gpu.Tuning, WeightFormat.Q8);
        using var matvec = new MatVecKernel(Context, Gpu.Tuning, WeightFormat.Q8, Cols);
        Context.Run(r =>
        {
            matmul.Record(r, w, gx.All, mm.All, Tokens, accumulate: true);
            for (int t = 0; t < Tokens; t++)
            {
                matvec.Record(r, w, gx.Slice((ulong)(t * Cols * 4), Cols * 4), mv.All, accumulate: true, yOffset: (uint)(t * Rows));
            }
        });
        var a = new float[Tokens * Rows];
        var b = new float[Tokens * Rows];
        mm.Read<float>(a);
        mv.Read<float>(b);
        AssertNmse.Close(b, a, 1e-10, "prefill matmul vs decode matvec, accumulating");
    }
}
