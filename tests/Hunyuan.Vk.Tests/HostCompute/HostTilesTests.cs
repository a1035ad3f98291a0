using System.Runtime.Intrinsics.X86;
using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.HostCompute;

/// <summary>
/// The tiled products (<see cref="HostTiles"/>) on every instruction-set path this CPU runs, against the dequantized
/// weights times the dequantized int8 activations in double: the integer sums are exact, so only f32 rounding differs
/// (limit 1e-10). Rows not a multiple of the group (the last group padded), 1 to 4 tokens, Q4Z's 128-value groups.
/// </summary>
public sealed class HostTilesTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (HostKernelPath path in Enum.GetValues<HostKernelPath>())
        {
            foreach ((WeightFormat f, int rows, int cols) in new[] { (WeightFormat.Q8, 13, 64), (WeightFormat.Q8, 8, 4096), (WeightFormat.Q4, 21, 96),
                (WeightFormat.Q4, 16, 4096), (WeightFormat.Q4Z, 11, 384), (WeightFormat.Q4Z, 24, 3072) })
            {
                yield return new TestCaseData(f, rows, cols, path.ToString()).SetName($"{f} {rows}x{cols} {path}");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Groups_of_rows_dotted_with_tokens_match_the_reference(WeightFormat format, int rows, int cols, string pathName)
    {
        HostKernelPath path = Enum.Parse<HostKernelPath>(pathName);
        if ((path == HostKernelPath.Vnni && !AvxVnni.IsSupported) || (path == HostKernelPath.Avx2 && !Avx2.IsSupported))
        {
            Assert.Ignore($"this CPU has no {path}");
        }

        QuantizedMatrix m = QuantizedMatrix.Random(format, rows, cols, new Random(rows * cols));
        if (format == WeightFormat.Q4Z)
        {
            // Zero points across their whole range, not the random maker's one value.
            var zeros = new byte[m.Zeros.Length];
            for (int i = 0; i < zeros.Length; i++)
            {
                zeros[i] = (byte)(1 + i * 7 % 16);
            }

            m = new QuantizedMatrix(format, rows, cols, m.Quants, m.Scales, zeros);
        }

        float[] w = m.Dequantize();
        var tiles = new HostTiles(m);
        Int8Activation[] xs = [.. Enumerable.Range(0, HostTiles.TileTokens).Select(t =>
        {
            var x = new Int8Activation(cols);
            x.Quantize(TestData.Uniform(t + cols, cols, scale: 1 + t));
            return x;
        })];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c += 7)
            {
                Assert.That(tiles.Value(r, c), Is.EqualTo(w[r * cols + c]), $"value [{r}, {c}] as tiled");
            }
        }

        var dots = new float[HostTiles.TileTokens * HostTiles.GroupRows];
        for (int n = 1; n <= HostTiles.TileTokens; n++)
        {
            var expected = new float[tiles.Groups * HostTiles.GroupRows * n];
            var actual = new float[expected.Length];
            for (int g = 0; g < tiles.Groups; g++)
            {
                tiles.Dot(g, xs.AsSpan(0, n), dots, path);
                for (int t = 0; t < n; t++)
                {
                    float[] x = xs[t].Dequantize();
                    for (int j = 0; j < HostTiles.GroupRows; j++)
                    {
                        int r = g * HostTiles.GroupRows + j;
                        double sum = 0;
                        for (int c = 0; r < rows && c < cols; c++)
                        {
                            sum += (double)w[r * cols + c] * x[c];
                        }

                        expected[(t * tiles.Groups + g) * HostTiles.GroupRows + j] = (float)sum;
                        actual[(t * tiles.Groups + g) * HostTiles.GroupRows + j] = dots[t * HostTiles.GroupRows + j];
                    }
                }
            }

            AssertNmse.Close(expected, actual, 1e-10, $"{format} {rows}x{cols}, {n} tokens, {path}");
            Assert.That(actual.Where((_, i) => i % (tiles.Groups * HostTiles.GroupRows) >= rows), Is.All.EqualTo(0f), "padding rows give 0");
        }
    }
}
