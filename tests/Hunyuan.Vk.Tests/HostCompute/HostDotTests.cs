using System.Runtime.Intrinsics.X86;
using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.HostCompute;

/// <summary>
/// The host expert kernels' row dot products (AVX-512, AVX2, SSSE3 and scalar) against the CPU reference: against the dequantized
/// weights times the dequantized int8 activation the integer sums are exact, so only float rounding differs (1e-10);
/// against the float activation the int8 rounding of x shows (about 1.5e-5 for uniform x: limit 1e-4).
/// </summary>
[NonParallelizable]   // HostDot's path switches are process-wide
public sealed class HostDotTests
{
    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (string path in new[] { "avx512", "avx2", "ssse3", "scalar" })
        {
            foreach ((WeightFormat f, int cols) in new[] { (WeightFormat.Q8, 32), (WeightFormat.Q8, 96), (WeightFormat.Q8, 192), (WeightFormat.Q8, 4096), (WeightFormat.Q4, 32), (WeightFormat.Q4, 64),
                (WeightFormat.Q4, 160), (WeightFormat.Q4, 4096), (WeightFormat.Q4Z, 128), (WeightFormat.Q4Z, 384), (WeightFormat.Q4Z, 3072) })
            {
                yield return new TestCaseData(f, cols, path).SetName($"{f} 37x{cols} {path}");
            }
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Rows_dotted_with_an_int8_activation_match_the_reference(WeightFormat format, int cols, string path)
    {
        // avx512 runs where the CPU has AVX2 at least: without AVX-512 its few 512-bit instructions run as AVX2 halves.
        if ((path is "avx512" or "avx2" && !(Avx2.IsSupported && Fma.IsSupported)) || (path == "ssse3" && !Ssse3.IsSupported))
        {
            Assert.Ignore($"this CPU has no {(path == "ssse3" ? "ssse3" : "avx2")}");
        }

        const int Rows = 37;
        QuantizedMatrix w = Varied(QuantizedMatrix.Random(format, Rows, cols, new Random(cols)), cols);
        float[] x = TestData.Uniform(cols + 1, cols);
        var activation = new Int8Activation(cols + 64);   // capacity above the length: only Length values count
        activation.Quantize(x);
        float[] dense = w.Dequantize(), xq = activation.Dequantize();
        var exact = new float[Rows];
        var loose = new float[Rows];
        ModelOps.MatVec<float>(dense, xq, exact);
        ModelOps.MatVec<float>(dense, x, loose);

        var actual = new float[Rows];
        var host = new HostMatrix(w);
        HostDot.Path level = path switch { "avx512" => HostDot.Path.Avx512, "avx2" => HostDot.Path.Avx2, "ssse3" => HostDot.Path.Ssse3, _ => HostDot.Path.Scalar };
        for (int r = 0; r < Rows; r++)
        {
            actual[r] = host.Dot(r, activation, level);
        }

        AssertNmse.Close(exact, actual, 1e-10, $"{format} rows vs the dequantized int8 activation");
        AssertNmse.Close(loose, actual, 1e-4, $"{format} rows vs the float activation");
    }

    [Test]
    public void The_activation_keeps_each_block_within_127_steps_and_its_sums()
    {
        float[] x = [.. TestData.Uniform(3, 64).Select((v, i) => i < 32 ? v * 1000 : 0f)];   // a large block, a zero block
        var a = new Int8Activation(64);
        a.Quantize(x);
        Assert.That(a.Q.Take(32).Max(q => Math.Abs((int)q)), Is.EqualTo(127), "the block's largest value maps to 127");
        Assert.That(a.Scales[1], Is.Zero);
        Assert.That(a.Q.Skip(32), Is.All.Zero);
        Assert.That(a.Sums[0], Is.EqualTo(a.Q.Take(32).Sum(q => q)));
        Assert.That(a.QNibbleOrder[1], Is.EqualTo(a.Q[2]), "evens first");
        Assert.That(a.QNibbleOrder[16], Is.EqualTo(a.Q[1]), "then odds");
        Assert.Throws<ArgumentException>(() => a.Quantize(new float[96]), "beyond the capacity");
    }

    [TestCase(WeightFormat.Q8, 96, 3)]
    [TestCase(WeightFormat.Q4, 160, 4)]
    [TestCase(WeightFormat.Q4, 4096, 2)]
    [TestCase(WeightFormat.Q4Z, 384, 4)]
    [TestCase(WeightFormat.Q4Z, 3072, 3)]
    public void A_row_dotted_with_several_activations_at_once_matches_each_alone(WeightFormat format, int cols, int batch)
    {
        QuantizedMatrix w = QuantizedMatrix.Random(format, 5, cols, new Random(cols + batch));
        var host = new HostMatrix(w);
        Int8Activation[] xs = [.. Enumerable.Range(0, batch).Select(t =>
        {
            var a = new Int8Activation(cols);
            a.Quantize(TestData.Uniform(100 + t, cols));
            return a;
        })];
        var dots = new float[HostDot.MaxBatch];
        for (int r = 0; r < 5; r++)
        {
            host.Dot(r, xs, dots);
            float[] alone = [.. xs.Select(x => host.Dot(r, x, HostDot.Path.Scalar))];
            AssertNmse.Close(alone, dots.AsSpan(0, batch).ToArray(), 1e-9, $"{format} row {r}, {batch} at once");
        }
    }

    // Random matrices have one scale (and zero point 8) everywhere: give every group its own, so a kernel that reads
    // another row's or group's scale or zero point is caught.
    private static QuantizedMatrix Varied(QuantizedMatrix m, int seed)
    {
        var random = new Random(seed);
        for (int g = 0; g < m.Scales.Length; g++)
        {
            m.Scales[g] = (Half)((float)m.Scales[g] * (0.5f + random.NextSingle()));
        }

        for (int g = 0; g < m.Zeros.Length; g++)
        {
            m.Zeros[g] = (byte)random.Next(16);
        }

        return m;
    }
}
