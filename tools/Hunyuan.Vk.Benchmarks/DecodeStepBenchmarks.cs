using BenchmarkDotNet.Attributes;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Model.Synthetic;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Benchmarks;

/// <summary>
/// One whole decode step (record, one submit, wait, read the token) of the small preset with random Q4 weights: 4
/// layers, hidden 512, 16 experts top-4, the real vocabulary. MemoryDiagnoser shows the step allocates nothing.
/// </summary>
[MemoryDiagnoser]
public class DecodeStepBenchmarks : IDisposable
{
    private const int Context = 256;
    private VulkanInstance? _instance;
    private GpuContext? _context;
    private DeviceModel? _model;
    private DecodeSession? _session;
    private int _token;

    [GlobalSetup]
    public void Setup()
    {
        _instance = new VulkanInstance(validation: false);
        _context = _instance.CreateContext();
        HunyuanConfig config = new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.Small }).Config;
        _model = DeviceModel.Random(_context, config, WeightFormat.Q4);
        _session = new DecodeSession(_context, _model, Context);
        _token = _session.Prefill([1, 2, 3, 4]);
        for (int i = 0; i < 50; i++)
        {
            Step();   // compile pipelines, make descriptor sets, get past lavapipe's slow first second
        }
    }

    [Benchmark]
    public int Step()
    {
        if (_session!.Position == Context)
        {
            _session.Reset();   // a full cache starts over; Reset only rewinds the position
        }

        return _token = _session.Step(_token);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _session?.Dispose();
        _model?.Dispose();
        _context?.Dispose();
        _instance?.Dispose();
        GC.SuppressFinalize(this);
    }
}
