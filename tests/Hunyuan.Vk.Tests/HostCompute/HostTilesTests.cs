using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.HostCompute;

/// <summary>
/// The tiled products (<see cref="HostTiles"/>) on every instruction-set path this CPU runs, against the dequantized
/// weights times the dequantized int8 activations in double: the integer sums are exact, so only f32 rounding differs
/// (limit 1e-10). Rows not a multiple of the group (the last group padded), 1 to 8 tokens, Q4Z's 128-value groups.
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
        if (!HostKernels.Runs(path))
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

    /// <summary>The int16 sums of the 512-bit kernel at their bound: every nibble 15 (and 0) against q = +-127 in
    /// every value, the largest block sums there are; a saturating or wrapping sum would be off by thousands.</summary>
    [TestCase("Avx512")]
    [TestCase("Vnni")]
    [TestCase("Avx2")]
    [TestCase("Scalar")]
    public void Products_at_the_largest_values_are_exact(string pathName)
    {
        HostKernelPath path = Enum.Parse<HostKernelPath>(pathName);
        if (!HostKernels.Runs(path))
        {
            Assert.Ignore($"this CPU has no {path}");
        }

        const int Rows = 16, Cols = 128;
        QuantizedMatrix random = QuantizedMatrix.Random(WeightFormat.Q4, Rows, Cols, new Random(5));
        byte[] quants = [.. random.Quants.Select((_, i) => (byte)(i / (Cols / 2) % 2 == 0 ? 0xFF : 0x00))];   // rows of 15s, rows of 0s
        var m = new QuantizedMatrix(WeightFormat.Q4, Rows, Cols, quants, random.Scales, random.Zeros);
        var tiles = new HostTiles(m);
        float[] w = m.Dequantize();
        Int8Activation[] xs = [.. Enumerable.Range(0, HostTiles.TileTokens).Select(t =>
        {
            var x = new Int8Activation(Cols);
            x.Quantize(Enumerable.Repeat(t % 2 == 0 ? 1f : -1f, Cols).ToArray());
            return x;
        })];
        Assert.That(xs[0].Q, Is.All.EqualTo((sbyte)127));
        var dots = new float[HostTiles.TileTokens * HostTiles.GroupRows];
        for (int n = 1; n <= HostTiles.TileTokens; n++)   // every token count: the 256-bit kernels sum differently at 1-2 and 3-4
        {
            tiles.Dot(0, xs.AsSpan(0, n), dots, path);
            for (int t = 0; t < n; t++)
            {
                float[] x = xs[t].Dequantize();
                for (int r = 0; r < Rows; r++)
                {
                    double expected = Enumerable.Range(0, Cols).Sum(c => (double)w[r * Cols + c] * x[c]);
                    Assert.That(dots[t * HostTiles.GroupRows + r], Is.EqualTo(expected).Within(1e-4 * Math.Max(1, Math.Abs(expected))), $"row {r}, token {t} of {n}, {path}");
                }
            }
        }
    }
}
