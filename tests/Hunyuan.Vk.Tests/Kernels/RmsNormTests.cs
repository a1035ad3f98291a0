using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

public sealed class RmsNormTests : VulkanTest
{
    // Norms: the design's 1e-7. The kernel sums squares in f32 in a different order than the double reference;
    // at n = 4099 that is ~1e-12 NMSE, so the limit still catches a wrong scale, eps or weight.
    private const double Limit = 1e-7;

    [TestCase(1, 1)]
    [TestCase(3, 7)]
    [TestCase(1, 4096)]
    [TestCase(7, 4099)]
    [TestCase(32, 128)]
    public void Matches_reference(int rows, int n)
    {
        const float Eps = 1e-5f;
        float[] x = TestData.Uniform(100 + n, rows * n, scale: 3f);
        float[] w = TestData.Uniform(200 + n, n);
        var expected = new float[rows * n];
        ModelOps.RmsNorm<float>(x, w, expected, Eps);

        using GpuBuffer gx = Upload(x, "x"), gw = Upload(w, "w");
        using var y = new GuardedOutput(Context, rows * n, "y");
        RmsNormKernel kernel = Gpu.Kernel((c, t) => new RmsNormKernel(c, t));
        Context.Run(r => kernel.Record(r, gx.All, gw.All, y.Range, (uint)rows, (uint)n, Eps));

        AssertNmse.Close(expected, y.Read(), Limit, $"rms_norm {rows}x{n}");
    }

    [Test]
    public void Eps_is_applied()
    {
        // Tiny inputs, where eps dominates mean(x^2): a kernel that drops eps is off by orders of magnitude.
        const int N = 64;
        const float Eps = 1e-2f;
        float[] x = TestData.Uniform(5, N, scale: 1e-3f);
        float[] w = TestData.Uniform(6, N);
        var expected = new float[N];
        ModelOps.RmsNorm<float>(x, w, expected, Eps);

        using GpuBuffer gx = Upload(x, "x"), gw = Upload(w, "w");
        using var y = new GuardedOutput(Context, N, "y");
        RmsNormKernel kernel = Gpu.Kernel((c, t) => new RmsNormKernel(c, t));
        Context.Run(r => kernel.Record(r, gx.All, gw.All, y.Range, 1, N, Eps));

        AssertNmse.Close(expected, y.Read(), Limit, "rms_norm eps");
    }
}
