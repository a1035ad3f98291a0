using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Model.Synthetic;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Execution;

public sealed class MemoryEstimateTests : VulkanTest
{
    [TestCase(WeightFormat.F32)]
    [TestCase(WeightFormat.Q4)]
    public void Weight_estimate_is_within_5_percent_of_what_is_uploaded(WeightFormat format)
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        using var model = new DeviceModel(Context, weights, format);
        long estimate = MemoryEstimate.For(weights.Config, format, 64).WeightBytes;
        Assert.That((double)estimate, Is.EqualTo((double)model.DeviceBytes).Within(5).Percent);
    }

    [Test]
    public void A13b_at_q4_needs_about_45_GB_of_weights()
    {
        HunyuanConfig a13b = new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.A13b }).Config;
        MemoryEstimate e = MemoryEstimate.For(a13b, WeightFormat.Q4, 32768);
        // 80.4 B parameters x (0.5 + 2/32) bytes, the router in F32: about 45 GB (spec 2.6, 4.1).
        Assert.That(e.WeightBytes, Is.InRange(43e9, 47e9));
        Assert.That(e.KvCacheBytes, Is.EqualTo(32L * 2 * 32768 * 1024 * 2), "128 KiB per token in f16 (spec 2.3)");
    }

    [Test]
    public void A_device_too_small_is_refused_naming_both_sizes()
    {
        HunyuanConfig a13b = new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.A13b }).Config;
        DeviceInfo small = Context.Info with { Type = "discrete", MemoryHeaps = [new MemoryHeapInfo(2UL << 30, true)] };
        var e = Assert.Throws<InsufficientDeviceMemoryException>(() => MemoryEstimate.For(a13b, WeightFormat.Q4, 4096).CheckFits(small));
        Assert.That(e!.Message, Does.Contain("GiB on the device").And.Contain("has 2.00 GiB"));
        Assert.DoesNotThrow(() => MemoryEstimate.For(TestModels.TinyConfig(), WeightFormat.Q4, 64).CheckFits(Context.Info));
    }

    [Test]
    public void A_cpu_devices_budget_is_the_hosts_memory_not_its_nominal_heap()
    {
        // lavapipe reports a 2 GiB heap but allocates host memory beyond it (one A13B layer at Q4 peaks at 2.2 GB).
        DeviceInfo cpu = Context.Info with { Type = "cpu", MemoryHeaps = [new MemoryHeapInfo(2UL << 30, true)] };
        long host = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        Assert.That(MemoryEstimate.Budget(cpu), Is.EqualTo(Math.Max(host, 2L << 30)));
        Assert.That(MemoryEstimate.Budget(cpu with { Type = "discrete" }), Is.EqualTo(2L << 30), "a GPU's heap is what it has");
    }

    [Test]
    public void A13b_in_f16_and_f32_fits_nvidias_texel_limit_with_split_stacks_and_a_matrix_beyond_it_is_refused()
    {
        // NVIDIA (and NVK) allow 2^27 texels per view. A13B's 65 stacked F16 gate/up experts are 65 x 6144 x 4096 x 2 / 16
        // texels, so the stack is held in parts (SplitStackTests); what must fit one view is a single matrix, the largest
        // being the embedding (128,167 x 4096; in F32 131M vec4 texels, just inside).
        HunyuanConfig a13b = new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.A13b }).Config;
        DeviceInfo nvidia = Context.Info with
        {
            MemoryHeaps = [new MemoryHeapInfo(1UL << 40, true)],
            Limits = Context.Info.Limits with { MaxTexelBufferElements = 1UL << 27 },
        };
        MemoryEstimate f16 = MemoryEstimate.For(a13b, WeightFormat.F16, 4096);
        Assert.That(f16.LargestView.Texels, Is.EqualTo(128_167L * 4096 * 2 / 16));
        Assert.That(f16.LargestView.What, Does.Contain("embedding"));
        Assert.That(DeviceMatrix.MatricesPerPart(WeightFormat.F16.Spec(), 6144, 4096, nvidia.Limits), Is.EqualTo(42), "F16 gate/up: 42 experts per part, so 65 in 2");
        foreach (WeightFormat format in new[] { WeightFormat.F32, WeightFormat.F16, WeightFormat.Q8, WeightFormat.Q4 })
        {
            Assert.DoesNotThrow(() => MemoryEstimate.For(a13b, format, 4096).CheckFits(nvidia), format.ToString());
        }

        DeviceInfo tiny = nvidia with { Limits = nvidia.Limits with { MaxTexelBufferElements = 1UL << 24 } };
        var e = Assert.Throws<NotSupportedException>(() => f16.CheckFits(tiny));
        Assert.That(e!.Message, Does.Contain("embedding in f16").And.Contain("maxTexelBufferElements").And.Contain("q8"));
    }
}
