using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

/// <summary>
/// A weight tensor larger than 128 MiB, lavapipe's maxStorageBufferRange (one layer's stacked experts are ~400 MB at
/// Q4). Weights are bound as texel-buffer views, whose limit is in texels (128 M here: 2 GiB of uvec4), so no binding
/// exceeds a device limit and the validation layer stays silent.
/// </summary>
public sealed class LargeTensorTests : VulkanTest
{
    [Test]
    public void A_q8_matrix_above_128_MiB_in_one_binding()
    {
        const int Rows = 11_008, Cols = 12_288;   // 135,266,304 bytes of int8

        var random = new Random(3);
        var quants = new byte[(long)Rows * Cols];
        random.NextBytes(quants);
        Half[] scales = [.. Enumerable.Range(0, Rows * Cols / 32).Select(_ => (Half)(0.001f + random.NextSingle() * 0.01f))];
        float[] x = TestData.Uniform(4, Cols);
        var expected = new float[Rows];
        Parallel.For(0, Rows, r =>
        {
            double sum = 0;
            for (int k = 0; k < Cols; k++)
            {
                sum += (sbyte)quants[(long)r * Cols + k] * (double)scales[(r * Cols + k) / 32] * x[k];
            }

            expected[r] = (float)sum;
        });

        using DeviceMatrix w = DeviceMatrix.Upload(Context, "W (135 MB)", new QuantizedMatrix(WeightFormat.Q8, Rows, Cols, quants, scales));
        Assert.That(w.Parts.ToArray().Single().Quants.Bytes, Is.GreaterThan(128UL << 20), "one view spans it all");
        using GpuBuffer gx = Upload(x, "x");
        using var y = new GuardedOutput(Context, Rows, "y");
        using var kernel = new MatVecKernel(Context, Gpu.Tuning, WeightFormat.Q8, Cols);
        Context.Run(r => kernel.Record(r, w, gx.All, y.Range));
        AssertNmse.Close(expected, y.Read(), 1e-6, "Q8 11008x12288");
    }
}
