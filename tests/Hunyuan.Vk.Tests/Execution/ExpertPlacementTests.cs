using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Model.Synthetic;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Execution;

/// <summary>Where the routed experts go for A13B on the GPUs workstations have (from the config alone, as before a
/// load), and what is refused with which numbers; the host estimate against a model loaded that way.</summary>
public sealed class ExpertPlacementTests : VulkanTest
{
    private static readonly HunyuanConfig s_a13b = new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.A13b }).Config;

    private const long Workstation = 128_000_000_000;   // host memory of the workstation the GPU is in

    private static DeviceInfo Gpu(double gib) => Context.Info with { Type = "discrete", MemoryHeaps = [new MemoryHeapInfo((ulong)(gib * (1L << 30)), true)] };

    [TestCase(24.0)]
    [TestCase(16.0)]
    public void A13b_at_q4_on_a_workstation_gpu_keeps_what_fits_and_puts_the_rest_on_the_host(double gib)
    {
        ExpertPlacement p = ExpertPlacement.Choose(s_a13b, WeightFormat.Q4, 8192, Gpu(gib), hostLayers: null, hostMemory: Workstation);
        long budget = ExpertPlacement.DefaultBudget(Gpu(gib));
        Assert.That(p.HostLayers, Is.InRange(1, 31), "some layers each side");
        Assert.That(p.Estimate.TotalBytes, Is.LessThanOrEqualTo(budget), "the device part fits the budget");
        Assert.That(p.Estimate.TotalBytes + p.Estimate.RoutedLayerBytes, Is.GreaterThan(budget), "one more layer on the device would not");
        Assert.That(p.SharedOnHost, Is.False, "a GPU keeps the shared experts");
        Assert.That(p.Describe(s_a13b.Layers), Does.Contain($"{32 - p.HostLayers} layers on the device, {p.HostLayers} on the host").And.Contain("GB available"));
        TestContext.Out.WriteLine($"{gib} GiB: {p.Describe(s_a13b.Layers)}");

        // A13B's routed experts are ~1.36 GB a layer at Q4: each layer moved frees that much of the device.
        MemoryEstimate fewer = MemoryEstimate.For(s_a13b, WeightFormat.Q4, 8192, hostLayers: p.HostLayers - 1);
        Assert.That(fewer.TotalBytes - p.Estimate.TotalBytes, Is.EqualTo(p.Estimate.RoutedLayerBytes));
        Assert.That(p.Estimate.RoutedLayerBytes, Is.InRange(1.3e9, 1.45e9));
    }

    /// <summary>The cache is counted in its format: at a long context the int8 cache's savings keep more layers' experts
    /// on a 24 GiB device, and a context whose f16 cache cannot fit is refused with the numbers.</summary>
    [Test]
    public void The_kv_cache_is_counted_in_its_format_per_placement()
    {
        MemoryEstimate f16 = MemoryEstimate.For(s_a13b, WeightFormat.Q4, 65536, kvFormat: KvCacheFormat.F16);
        MemoryEstimate q8 = MemoryEstimate.For(s_a13b, WeightFormat.Q4, 65536, kvFormat: KvCacheFormat.Q8);
        Assert.That(f16.KvCacheBytes, Is.EqualTo(32L * 2 * 65536 * 8 * 128 * 2), "8 GiB: 128 KiB a position");
        Assert.That(q8.KvCacheBytes, Is.EqualTo(32L * 2 * 65536 * 8 * 136), "int8 rows of 128 values and four f16 scales: 68 KiB a position");
        ExpertPlacement pf16 = ExpertPlacement.Choose(s_a13b, WeightFormat.Q4, 65536, Gpu(24), hostLayers: null, hostMemory: Workstation);
        ExpertPlacement pq8 = ExpertPlacement.Choose(s_a13b, WeightFormat.Q4, 65536, Gpu(24), hostLayers: null, hostMemory: Workstation, kvFormat: KvCacheFormat.Q8);
        Assert.That(pq8.HostLayers, Is.LessThan(pf16.HostLayers), "the smaller cache leaves room for more layers' experts on the device");
        Assert.That(pq8.Estimate.ToString(), Does.Contain("(q8)"));
        var e = Assert.Throws<InsufficientDeviceMemoryException>(() =>
            ExpertPlacement.Choose(s_a13b, WeightFormat.Q4, 262_144, Gpu(24), hostLayers: null, hostMemory: Workstation));
        Assert.That(e!.Message, Does.Contain("KV cache 32.00 GiB (f16)").And.Contain("shorter --context"));
    }

    [Test]
    public void A_budget_too_small_for_the_always_on_weights_is_refused_with_both_numbers()
    {
        var e = Assert.Throws<InsufficientDeviceMemoryException>(() =>
            ExpertPlacement.Choose(s_a13b, WeightFormat.Q4, 4096, Gpu(24), deviceMemory: 100_000_000, hostLayers: null, hostMemory: Workstation));
        Assert.That(e!.Message, Does.Contain("with 32 of 32 layers' routed experts on the host").And.Contain("--device-memory 0.10 GB"));
        Assert.That(e.Message, Does.Contain("Even with every layer's routed experts on the host"));
    }

    [Test]
    public void Too_few_host_layers_asked_for_a_budget_is_refused_saying_what_to_change()
    {
        var e = Assert.Throws<InsufficientDeviceMemoryException>(() => ExpertPlacement.Choose(s_a13b, WeightFormat.Q4, 4096, Gpu(24), hostLayers: 2, hostMemory: Workstation));
        Assert.That(e!.Message, Does.Contain("with 2 of 32 layers' routed experts on the host").And.Contain("--host-experts auto or all"));
        Assert.DoesNotThrow(() => ExpertPlacement.Choose(s_a13b, WeightFormat.Q4, 4096, Gpu(24), hostLayers: ExpertPlacement.All, hostMemory: Workstation));
    }

    [Test]
    public void Host_memory_that_cannot_hold_the_rest_is_refused_with_both_numbers()
    {
        // A 4 GiB GPU in a 32 GB machine: ~30 layers' Q4 experts on the host, ~45 GB.
        var e = Assert.Throws<InsufficientDeviceMemoryException>(() =>
            ExpertPlacement.Choose(s_a13b, WeightFormat.Q4, 4096, Gpu(4), hostLayers: null, hostMemory: 32_000_000_000));
        Assert.That(e!.Message, Does.Contain("GB of host memory; 32.00 GB is available").And.Contain("the device holds only"));
        Assert.That(ExpertPlacement.Choose(s_a13b, WeightFormat.Q4, 4096, Gpu(4), hostLayers: null, hostMemory: Workstation).HostLayers, Is.GreaterThan(28));
    }

    [Test]
    public void On_a_cpu_device_auto_puts_every_layers_experts_on_the_host_and_f32_stays_on_the_device()
    {
        HunyuanConfig tiny = TestModels.TinyConfig();
        DeviceInfo cpu = Context.Info with { Type = "cpu" };
        ExpertPlacement p = ExpertPlacement.Choose(tiny, WeightFormat.Q4, 64, cpu, hostLayers: null);
        Assert.That((p.HostLayers, p.SharedOnHost), Is.EqualTo((tiny.Layers, true)));
        Assert.That(p.Why, Does.Contain("CPU device"));
        Assert.That(ExpertPlacement.Choose(tiny, WeightFormat.F32, 64, cpu, hostLayers: null).HostLayers, Is.Zero, "the host kernels run q8, q4 and GPTQ int4");
        var e = Assert.Throws<NotSupportedException>(() => ExpertPlacement.Choose(tiny, WeightFormat.F16, 64, cpu, hostLayers: 1));
        Assert.That(e!.Message, Does.Contain("f16"));
        Assert.That(ExpertPlacement.Choose(tiny, WeightFormat.Q4, 64, Gpu(24), hostLayers: null).HostLayers, Is.Zero, "a GPU with room keeps them");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void The_estimate_of_both_sides_is_within_5_percent_of_what_a_load_takes(bool sharedOnHost)
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        HunyuanConfig c = weights.Config;
        using var model = new DeviceModel(Context, weights, WeightFormat.Q4, hostLayers: 1, sharedOnHost: sharedOnHost);
        MemoryEstimate e = MemoryEstimate.For(c, WeightFormat.Q4, 64, hostLayers: 1, sharedOnHost: sharedOnHost);
        Assert.That((double)e.WeightBytes, Is.EqualTo((double)model.DeviceBytes).Within(5).Percent, "device");
        Assert.That((double)MemoryEstimate.HostLayerBytes(c, WeightFormat.Q4, c.Experts + (sharedOnHost ? 1 : 0)), Is.EqualTo((double)model.HostBytes).Within(1).Percent, "host");
    }
}
