using BenchmarkDotNet.Attributes;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Benchmarks;

/// <summary>
/// One dispatch per operation, each submitted and waited for, on the default device. At decode shapes these kernels
/// are bound by memory: weight bytes / time is the figure to compare with the device's bandwidth.
/// </summary>
[MemoryDiagnoser]
public class KernelBenchmarks : IDisposable
{
    private VulkanInstance? _instance;
    private GpuContext? _context;
    private MatVecF16Kernel? _matVec;
    private RmsNormKernel? _norm;
    private GpuBuffer? _weight, _x, _y, _normWeight;
    private CommandRecorder? _matVecStep, _normStep;

    [Params(4096)]
    public int Rows { get; set; }

    [Params(4096)]
    public int Cols { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _instance = new VulkanInstance(validation: false);
        _context = _instance.CreateContext();
        DeviceTuning tuning = DeviceTuning.For(_context.Info);
        _matVec = new MatVecF16Kernel(_context, tuning);
        _norm = new RmsNormKernel(_context, tuning);
        var random = new Random(1);
        _weight = _context.CreateBuffer((ulong)Rows * (ulong)Cols * 2, "W");
        _weight.Write<Half>(Enumerable.Range(0, Rows * Cols).Select(_ => (Half)(random.NextSingle() - 0.5f)).ToArray());
        _x = _context.CreateBuffer((ulong)Cols * 4, "x");
        _x.Write<float>(Enumerable.Range(0, Cols).Select(_ => random.NextSingle()).ToArray());
        _normWeight = _context.CreateBuffer((ulong)Cols * 4, "norm weight");
        _normWeight.Write<float>(Enumerable.Range(0, Cols).Select(_ => random.NextSingle()).ToArray());
        _y = _context.CreateBuffer((ulong)Math.Max(Rows, Cols) * 4, "y");

        // Recorded once, submitted per iteration, as the decode step will be.
        _matVecStep = _context.CreateRecorder();
        _matVecStep.Begin();
        _matVec.Record(_matVecStep, _weight.All, _x.All, _y.Slice(0, (ulong)Rows * 4), (uint)Rows, (uint)Cols);
        _matVecStep.End();
        _normStep = _context.CreateRecorder();
        _normStep.Begin();
        _norm.Record(_normStep, _x.All, _normWeight.All, _y.Slice(0, (ulong)Cols * 4), 1, (uint)Cols, 1e-5f);
        _normStep.End();
        _matVecStep.SubmitAndWait();   // compiles the pipelines before timing
        _normStep.SubmitAndWait();
    }

    /// <summary>Weight bytes read: Rows * Cols * 2 (f16). Divide by the mean time for GB/s.</summary>
    [Benchmark]
    public void MatVecF16() => _matVecStep!.SubmitAndWait();

    [Benchmark]
    public void RmsNorm() => _normStep!.SubmitAndWait();

    [GlobalCleanup]
    public void Dispose()
    {
        _matVecStep?.Dispose();
        _normStep?.Dispose();
        foreach (GpuBuffer? b in new[] { _weight, _x, _y, _normWeight })
        {
            b?.Dispose();
        }

        _matVec?.Dispose();
        _norm?.Dispose();
        _context?.Dispose();
        _instance?.Dispose();
        GC.SuppressFinalize(this);
    }
}
