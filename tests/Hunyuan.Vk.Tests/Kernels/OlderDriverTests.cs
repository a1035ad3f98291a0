using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;
using Silk.NET.Core;

namespace Hunyuan.Vk.Tests.Kernels;

/// <summary>
/// #24 point 2: a Vulkan 1.2 driver has no 1.3 feature structs; its subgroup size control and full subgroups come from
/// VK_EXT_subgroup_size_control. An instance of 1.2 makes this device such a driver (a device is used at the older of
/// its version and the instance's): the probe must find size control through the extension's structs, the context
/// enable the extension, and the GPU rows' subgroup-split kernels run and match the reference, with no message from
/// the validation layer in the validation pass (which also catches a 1.3 struct chained on a 1.2 device).
/// Before: the 1.2 probe reported no size control, so every split kernel fell back or, for the router, threw.
/// </summary>
public sealed class OlderDriverTests : VulkanTest
{
    [Test]
    public void A_vulkan_1_2_driver_gets_subgroup_size_control_from_the_extension()
    {
        using var instance = new VulkanInstance(apiVersion: new Version32(1, 2, 0));
        DeviceInfo info = instance.Devices[Context.Info.Index];
        Assert.That(info.Features.SubgroupSizeControl, Is.True, "size control through VK_EXT_subgroup_size_control");
        Assert.That(info.Features.ComputeFullSubgroups, Is.True, "full subgroups through the extension");
        Assert.That((info.MinSubgroupSize, info.MaxSubgroupSize), Is.EqualTo((Context.Info.MinSubgroupSize, Context.Info.MaxSubgroupSize)), "the extension's sizes");

        using GpuContext context = instance.CreateContext(info.Index);
        DeviceTuning gpu = DeviceTuning.For(context.Info, "nvidia");
        Assert.That((gpu.MatVecLanes, gpu.RouteSplit), Is.EqualTo((context.Info.MaxSubgroupSize, true)), "the split kernels are on");

        const int Rows = 70, Cols = 512, Experts = 64, TopK = 8;
        QuantizedMatrix q = MatVecTests.Matrix(WeightFormat.Q4, Rows, Cols, seed: 3);
        float[] x = TestData.Uniform(4, Cols);
        var expected = new float[Rows];
        ModelOps.MatVec<float>(q.Dequantize(), x, expected);
        float[] logits = TestData.Uniform(5, Experts, scale: 3f);
        using DeviceMatrix w = DeviceMatrix.Upload(context, "W", q);
        using GpuBuffer gx = context.CreateBuffer(Cols * 4, "x"), gl = context.CreateBuffer(Experts * 4, "logits");
        gx.Write<float>(x);
        gl.Write<float>(logits);
        using var y = new GuardedOutput(context, Rows, "y");
        using GpuBuffer route = context.CreateBuffer(MoeRoute.Bytes, "route");
        using var matvec = new MatVecKernel(context, gpu, WeightFormat.Q4, Cols);
        using var router = new MoeRouteKernel(context, gpu);
        context.Run(r =>
        {
            matvec.Record(r, w, gx.All, y.Range);
            router.Record(r, gl.All, route.All, new MoeGating(Experts, TopK, SharedExpert: false, NormTopK: true, Scaling: 1f));
        });

        AssertNmse.Close(expected, y.Read(), 1e-6, "Q4 matvec at the nvidia row's lanes on a 1.2 driver");
        var ids = new uint[TopK];
        route.Read<uint>(ids);
        double[] probabilities = [.. logits.Select(v => (double)v)];
        Assert.That(ids.Select(i => (int)i), Is.EqualTo(ModelOps.TopK<double>(probabilities, TopK)), "the split router's choice");
        Assert.That(instance.DrainValidationMessages(), Is.Empty, "the validation layer (on in the validation pass)");
    }
}
