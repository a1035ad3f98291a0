using BenchmarkDotNet.Attributes;
using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Benchmarks;

/// <summary>
/// The host dot's own cost, apart from memory: 128 rows of 4096 (an A13B gate/up row) dotted with one int8 activation
/// on one thread, the rows small enough to stay in L2 (Q4 0.25 MB, Q8 0.5 MB). Mean time over 128 x 128 blocks is the
/// time per 32-value block: what bounds the expert kernels where DRAM does not.
/// </summary>
[MemoryDiagnoser]
public class HostDotBenchmarks
{
    private const int Rows = 128, Cols = 4096;
    private HostMatrix? _m;
    private readonly Int8Activation _x = new(Cols);

    [Params(WeightFormat.Q4, WeightFormat.Q4Z, WeightFormat.Q8)]
    public WeightFormat Format { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(2);
        _m = new HostMatrix(QuantizedMatrix.Random(Format, Rows, Cols, random));
        _x.Quantize([.. Enumerable.Range(0, Cols).Select(_ => random.NextSingle() - 0.5f)]);
    }

    [Benchmark(OperationsPerInvoke = Rows * Cols / 32)]
    public float Block()
    {
        float sum = 0;
        for (int r = 0; r < Rows; r++)
        {
            sum += _m!.Dot(r, _x);
        }

        return sum;
    }
}
