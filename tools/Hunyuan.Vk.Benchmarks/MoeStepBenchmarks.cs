using BenchmarkDotNet.Attributes;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Benchmarks;

/// <summary>
/// One decode step of an A13B MoE layer on the default device, recorded once and submitted per operation: router
/// (F32 64x4096), routing (softmax, top-8, renormalise, shared slot), gate/up with SwiGLU for 9 experts (8 routed +
/// shared; 6144x4096 each, gate and up interleaved), down for 9 experts (4096x3072), weighted combine into h.
/// Weights are random quants (no need for real values to time memory traffic): 65 stacked experts.
/// </summary>
[MemoryDiagnoser]
public class MoeStepBenchmarks : IDisposable
{
    private const int Hidden = 4096, Inter = 3072, Experts = 64, TopK = 8, Slots = TopK + 1;
    private VulkanInstance? _instance;
    private GpuContext? _context;
    private readonly List<IDisposable> _owned = [];
    private CommandRecorder? _step;

    [Params(WeightFormat.Q4, WeightFormat.Q8)]
    public WeightFormat Format { get; set; }

    /// <summary>Weight bytes one step reads: router, and gate/up and down of the 9 active experts.</summary>
    public static long BytesPerStep(WeightFormat f) =>
        (long)(Experts * Hidden * 4 + Slots * (2L * Inter * Hidden + (long)Hidden * Inter) * f.BytesPerWeight());

    [GlobalSetup]
    public void Setup()
    {
        _instance = new VulkanInstance(validation: false);
        _context = _instance.CreateContext();
        DeviceTuning tuning = DeviceTuning.For(_context.Info);
        var random = new Random(1);
        DeviceMatrix gateUp = Own(DeviceMatrix.Upload(_context, "gate_up", [.. Enumerable.Range(0, Experts + 1).Select(_ => QuantizedMatrix.Random(Format, 2 * Inter, Hidden, random))]));
        DeviceMatrix down = Own(DeviceMatrix.Upload(_context, "down", [.. Enumerable.Range(0, Experts + 1).Select(_ => QuantizedMatrix.Random(Format, Hidden, Inter, random))]));
        float[] router = [.. Enumerable.Range(0, Experts * Hidden).Select(_ => (random.NextSingle() - 0.5f) * 0.05f)];
        DeviceMatrix routerMatrix = Own(DeviceMatrix.Upload(_context, "router", Quantizer.Quantize(router, Experts, Hidden, WeightFormat.F32)));
        GpuBuffer x = Own(_context.CreateBuffer(Hidden * 4, "x"));
        x.Write<float>([.. Enumerable.Range(0, Hidden).Select(_ => random.NextSingle() - 0.5f)]);
        GpuBuffer h = Own(_context.CreateBuffer(Hidden * 4, "h"));
        GpuBuffer logits = Own(_context.CreateBuffer(Experts * 4, "logits"));
        GpuBuffer route = Own(_context.CreateBuffer(MoeRoute.Bytes, "route"));
        GpuBuffer act = Own(_context.CreateBuffer(Slots * Inter * 4, "act"));
        GpuBuffer partial = Own(_context.CreateBuffer(Slots * Hidden * 4, "partials"));
        MatVecKernel routerKernel = Own(new MatVecKernel(_context, tuning, WeightFormat.F32, Hidden));
        MoeRouteKernel routeKernel = Own(new MoeRouteKernel(_context, tuning));
        MatVecKernel gateUpKernel = Own(new MatVecKernel(_context, tuning, Format, Hidden, MatVecMode.GateUp));
        MatVecKernel downKernel = Own(new MatVecKernel(_context, tuning, Format, Inter, MatVecMode.Down));
        MoeCombineKernel combine = Own(new MoeCombineKernel(_context, tuning));

        _step = _context.CreateRecorder();
        _step.Begin();
        routerKernel.Record(_step, routerMatrix, x.All, logits.All);
        _step.Barrier();
        routeKernel.Record(_step, logits.All, route.All, new MoeGating(Experts, TopK, SharedExpert: true, NormTopK: true, Scaling: 1f));
        _step.Barrier();
        gateUpKernel.RecordRouted(_step, gateUp, x.All, act.All, route.All, Slots);
        _step.Barrier();
        downKernel.RecordRouted(_step, down, act.All, partial.All, route.All, Slots);
        _step.Barrier();
        combine.Record(_step, partial.All, route.All, h.All, Hidden, Slots);
        _step.End();
        for (int i = 0; i < 20; i++)
        {
            _step.SubmitAndWait();   // compile pipelines and get past lavapipe's slow first second
        }
    }

    [Benchmark]
    public void MoeStep() => _step!.SubmitAndWait();

    private T Own<T>(T item)
        where T : IDisposable
    {
        _owned.Add(item);
        return item;
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _step?.Dispose();
        for (int i = _owned.Count - 1; i >= 0; i--)
        {
            _owned[i].Dispose();
        }

        _owned.Clear();
        _context?.Dispose();
        _instance?.Dispose();
        GC.SuppressFinalize(this);
    }
}
