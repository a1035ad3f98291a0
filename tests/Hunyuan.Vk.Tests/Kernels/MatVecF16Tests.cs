using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

public sealed class MatVecF16Tests : VulkanTest
{
    // The design's matmul limit is 5e-4, but here the reference sees the exact f16 weights the GPU reads, so the only
    // difference is f32 vs double summation order (~1e-12). 1e-6 keeps the test sharp: at 5e-4 a kernel that skipped
    // the last of 4096 columns (NMSE ~2.4e-4) would pass.
    private const double Limit = 1e-6;

    [TestCase(1, 1)]
    [TestCase(5, 7)]
    [TestCase(37, 129)]
    [TestCase(130, 4099)]
    [TestCase(1000, 4096)]
    public void Matches_reference(int rows, int cols)
    {
        (Half[] w, float[] wf) = TestData.UniformHalf(300 + rows, rows * cols);
        float[] x = TestData.Uniform(400 + cols, cols);
        var expected = new float[rows];
        Ops.MatVec(wf, x, expected);

        using GpuBuffer gw = Upload(w, "W"), gx = Upload(x, "x");
        using var y = new GuardedOutput(Context, rows, "y");
        MatVecF16Kernel kernel = Gpu.Kernel((c, t) => new MatVecF16Kernel(c, t));
        Context.Run(r => kernel.Record(r, gw.All, gx.All, y.Range, (uint)rows, (uint)cols));

        Nmse.AssertClose(expected, y.Read(), Limit, $"matvec_f16 {rows}x{cols}");
    }
}
