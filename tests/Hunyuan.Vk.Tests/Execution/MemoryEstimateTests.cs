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
    /// <summary>A checkpoint's load allocates the plan's bytes, within each table's alignment (was: within 5%).</summary>
    [TestCase(WeightFormat.F32, CheckpointFormat.Dense)]
    [TestCase(WeightFormat.Q4, CheckpointFormat.Dense)]
    [TestCase(WeightFormat.Q4Z, CheckpointFormat.GptqInt4)]
    public void Weight_estimate_is_what_a_checkpoint_load_allocates(WeightFormat format, CheckpointFormat stored)
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny(stored)));
        long start = Context.AllocatedBytes, startBuffers = GpuBuffer.Live;
        using var model = new DeviceModel(Context, weights, format);
        long allocated = Context.AllocatedBytes - start, buffers = GpuBuffer.Live - startBuffers;
        long estimate = MemoryEstimate.For(weights.Config, format, 64).WeightBytes;
        Assert.That(allocated, Is.InRange(estimate, estimate + 3 * buffers * 256), $"{buffers} buffers");
        Assert.That(model.DeviceBytes, Is.EqualTo(allocated));
    }

    /// <summary>#23 point 1: the estimate is what a load allocates, within each buffer's alignment, for every preset,
    /// placement and KV format, on each side: the weights (the loader and the estimate read one <see cref="WeightPlan"/>)
    /// and the session's KV cache, activations and head (one <see cref="SessionPlan"/>). A13B with one layer.</summary>
    [TestCase(ModelPreset.Tiny, 0, false, KvCacheFormat.F16)]
    [TestCase(ModelPreset.Tiny, 1, false, KvCacheFormat.Q8)]
    [TestCase(ModelPreset.Small, 2, true, KvCacheFormat.F16)]
    [TestCase(ModelPreset.Small, 0, false, KvCacheFormat.Q8)]
    [TestCase(ModelPreset.A13b, 1, true, KvCacheFormat.F16)]
    public void The_estimate_is_what_a_load_allocates_on_each_side(ModelPreset preset, int hostLayers, bool sharedOnHost, KvCacheFormat kv)
    {
        HunyuanConfig c = new CheckpointGenerator(new GeneratorOptions { Preset = preset, Layers = preset == ModelPreset.A13b ? 1 : null }).Config;
        const int Positions = 1000;
        const long Alignment = 256;   // what a buffer (or a weight's table) is rounded to at most here
        long start = Context.AllocatedBytes, startBuffers = GpuBuffer.Live;
        using DeviceModel model = DeviceModel.Random(Context, c, WeightFormat.Q4, hostLayers: hostLayers, sharedOnHost: sharedOnHost);
        MemoryEstimate e = MemoryEstimate.For(c, WeightFormat.Q4, Positions, hostLayers: hostLayers, sharedOnHost: sharedOnHost, kvFormat: kv, device: Context.Info);
        long weights = Context.AllocatedBytes - start, weightBuffers = GpuBuffer.Live - startBuffers;
        Assert.That(weights, Is.InRange(e.WeightBytes, e.WeightBytes + 3 * weightBuffers * Alignment), $"weights: {weightBuffers} buffers, {weights} allocated, {e.WeightBytes} estimated");
        long before = Context.AllocatedBytes;
        int buffers = (int)GpuBuffer.Live;
        using var session = new DecodeSession(Context, model, Positions, kvFormat: kv);
        long allocated = Context.AllocatedBytes - before;
        int made = (int)GpuBuffer.Live - buffers;
        long estimate = e.KvCacheBytes + e.ActivationBytes;
        Assert.That(allocated, Is.InRange(estimate, estimate + made * Alignment), $"session: {made} buffers, {allocated} allocated, {estimate} estimated ({e})");
    }

    [Test]
    public void A13b_at_q4_needs_about_45_GB_of_weights()
    {
        HunyuanConfig a13b = new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.A13b }).Config;
        MemoryEstimate e = MemoryEstimate.For(a13b, WeightFormat.Q4, 32768);
        // 80.4 B parameters x (0.5 + 2/32) bytes, the router in F32: about 45 GB (docs/model.md 2.6, 4.1).
        Assert.That(e.WeightBytes, Is.InRange(43e9, 47e9));
        Assert.That(e.KvCacheBytes, Is.EqualTo(32L * 2 * 32768 * 1024 * 2), "128 KiB per token in f16 (docs/model.md 2.3)");
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
