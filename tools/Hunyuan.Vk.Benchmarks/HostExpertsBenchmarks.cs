using BenchmarkDotNet.Attributes;
using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Benchmarks;

/// <summary>
/// One token through 8 of an A13B layer's 64 routed experts on the CPU (gate/up 6144x4096 with SwiGLU, down 4096x3072),
/// the host-expert path of a GPU that cannot hold the model. Each iteration picks 8 other experts, so the weights come
/// from DRAM as in decode (64 experts at Q4 are 2.4 GB, far beyond any cache). Figure of merit: weight bytes per token
/// (<see cref="BytesPerToken"/>) over the mean time, against llama.cpp's MUL_MAT_ID rate on the same machine.
/// </summary>
[MemoryDiagnoser]
public class HostExpertsBenchmarks : IDisposable
{
    private const int Hidden = 4096, Inter = 3072, Experts = 64, TopK = 8;
    private HostExpertLayer? _layer;
    private readonly HostExperts _experts = new(Hidden, Inter, TopK, maxTokens: 1, maxExperts: Experts);
    private WorkerPool? _pool;
    private int _token;

    [Params(WeightFormat.Q4, WeightFormat.Q8)]
    public WeightFormat Format { get; set; }

    [Params(0)]   // 0: all processors
    public int Threads { get; set; }

    /// <summary>Weight bytes one token reads: 8 experts' gate/up and down.</summary>
    public static long BytesPerToken(WeightFormat f) => (long)(TopK * 3L * Hidden * Inter * f.BytesPerWeight());

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(1);
        _layer = new HostExpertLayer(
            [.. Enumerable.Range(0, Experts).Select(_ => QuantizedMatrix.Random(Format, 2 * Inter, Hidden, random))],
            [.. Enumerable.Range(0, Experts).Select(_ => QuantizedMatrix.Random(Format, Hidden, Inter, random))]);
        _pool = new WorkerPool(Threads);
        for (int i = 0; i < Hidden; i++)
        {
            _experts.X[i] = random.NextSingle() - 0.5f;
        }

        Array.Fill(_experts.RouteWeights, 1f / TopK);
    }

    [Benchmark]
    public void Token()
    {
        _token++;
        for (int s = 0; s < TopK; s++)
        {
            _experts.RouteIds[s] = (_token * 13 + s * 8) % Experts;   // 8 distinct experts, another set each token
        }

        _experts.Compute(_pool!, _layer!, 1);
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _pool?.Dispose();
        _pool = null;
        GC.SuppressFinalize(this);
    }
}
