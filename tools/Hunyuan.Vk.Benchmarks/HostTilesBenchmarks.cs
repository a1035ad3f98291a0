using BenchmarkDotNet.Attributes;
using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Benchmarks;

/// <summary>
/// The host products' own cost, apart from memory: 128 rows of 4096 (an A13B gate/up slice, L2-resident) against
/// 1, 4 or 8 int8 tokens on one thread, tiled (<see cref="HostTiles"/>) on each instruction-set path: 0.5 M
/// multiply-adds per token, so 10 us for one token is 52 GMAC/s.
/// </summary>
public class HostTilesBenchmarks
{
    private const int Rows = 128, Cols = 4096;
    private HostTiles? _tiles;
    private readonly Int8Activation[] _x = [.. Enumerable.Range(0, HostTiles.TileTokens).Select(_ => new Int8Activation(Cols))];
    private readonly float[] _dots = new float[HostTiles.TileTokens * HostTiles.GroupRows];

    [Params(WeightFormat.Q4, WeightFormat.Q8)]
    public WeightFormat Format { get; set; }

    [Params(1, 4, 8)]
    public int Tokens { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(2);
        QuantizedMatrix m = QuantizedMatrix.Random(Format, Rows, Cols, random);
        _tiles = new HostTiles(m);
        foreach (Int8Activation x in _x)
        {
            x.Quantize([.. Enumerable.Range(0, Cols).Select(_ => random.NextSingle() - 0.5f)]);
        }
    }

    [Benchmark]
    public float TilesAvx512() => Tiles(HostKernelPath.Avx512);

    [Benchmark]
    public float TilesVnni() => Tiles(HostKernelPath.Vnni);

    [Benchmark]
    public float TilesAvx2() => Tiles(HostKernelPath.Avx2);

    private float Tiles(HostKernelPath path)
    {
        float sum = 0;
        for (int g = 0; g < Rows / HostTiles.GroupRows; g++)
        {
            _tiles!.Dot(g, _x.AsSpan(0, Tokens), _dots, path);
            sum += _dots[0];
        }

        return sum;
    }
}
