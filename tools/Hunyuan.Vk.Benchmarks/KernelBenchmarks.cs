using BenchmarkDotNet.Attributes;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Benchmarks;

/// <summary>
/// Decode matrix-vector products at Hunyuan-A13B's shapes on the default device, one recorded command buffer submitted
/// and waited for per operation (as a decode step is). Memory-bound: the GB/s column is weight bytes (quants, scales,
/// zero points) over the mean time. Shapes: 4096x4096 (q/o), 6144x4096 (fused QKV), 3072x4096 (gate/up), 4096x3072 (down).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(WeightBandwidthConfig))]
public class MatVecBenchmarks : IDisposable
{
    private VulkanInstance? _instance;
    private GpuContext? _context;
    private MatVecKernel? _kernel;
    private DeviceMatrix? _weight;
    private GpuBuffer? _x, _y;
    private CommandRecorder? _step;

    [ParamsSource(nameof(Formats))]
    public WeightFormat Format { get; set; }

    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "4096x4096";

    /// <summary>All formats, or those in HYVK_BENCH_FORMATS (e.g. "Q4,Q8").</summary>
    public static IEnumerable<WeightFormat> Formats() =>
        FromEnvironment("HYVK_BENCH_FORMATS", ["Q4", "Q8", "Q4Z", "F16"]).Select(Enum.Parse<WeightFormat>);

    /// <summary>A13B's decode shapes, or those in HYVK_BENCH_SHAPES (e.g. "4096x4096").</summary>
    public static IEnumerable<string> Shapes() => FromEnvironment("HYVK_BENCH_SHAPES", ["4096x4096", "6144x4096", "3072x4096", "4096x3072"]);

    private static string[] FromEnvironment(string variable, string[] all) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } list ? list.Split(',', StringSplitOptions.TrimEntries) : all;

    public (int Rows, int Cols) Dims => (int.Parse(Shape.Split('x')[0], System.Globalization.CultureInfo.InvariantCulture),
        int.Parse(Shape.Split('x')[1], System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Bytes of weights one product reads.</summary>
    public long WeightBytes => (long)_weight!.BytesPerMatrix;

    [GlobalSetup]
    public void Setup()
    {
        (int rows, int cols) = Dims;
        _instance = new VulkanInstance(validation: false);
        _context = _instance.CreateContext();
        DeviceTuning tuning = DeviceTuning.For(_context.Info);
        _kernel = new MatVecKernel(_context, tuning, Format, (uint)cols);
        _weight = DeviceMatrix.Upload(_context, "W", RandomMatrix(Format, rows, cols));
        var random = new Random(2);
        _x = _context.CreateBuffer((ulong)cols * 4, "x");
        _x.Write<float>(Enumerable.Range(0, cols).Select(_ => random.NextSingle() - 0.5f).ToArray());
        _y = _context.CreateBuffer((ulong)rows * 4, "y");
        _step = _context.CreateRecorder();
        _step.Begin();
        _kernel.Record(_step, _weight, _x.All, _y.All);
        _step.End();
        _step.SubmitAndWait();   // the first run compiles the pipeline: keep it out of the timing
        WeightBandwidthConfig.Bytes[$"{Format}/{Shape}"] = WeightBytes;
    }

    [Benchmark]
    public void MatVec() => _step!.SubmitAndWait();

    internal static QuantizedMatrix RandomMatrix(WeightFormat format, int rows, int cols)
    {
        var random = new Random(1);
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = random.NextSingle() - 0.5f;
        }

        if (format != WeightFormat.Q4Z)
        {
            return Quantizer.Quantize(w, rows, cols, format);
        }

        QuantizedMatrix q4 = Quantizer.Quantize(w, rows, cols, WeightFormat.Q4);
        int groups = rows * cols / 128;
        return new QuantizedMatrix(WeightFormat.Q4Z, rows, cols, q4.Quants, [.. Enumerable.Repeat((Half)0.01f, groups)], [.. Enumerable.Repeat((byte)8, groups)]);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _step?.Dispose();
        _weight?.Dispose();
        _x?.Dispose();
        _y?.Dispose();
        _kernel?.Dispose();
        _context?.Dispose();
        _instance?.Dispose();
        GC.SuppressFinalize(this);
    }
}
