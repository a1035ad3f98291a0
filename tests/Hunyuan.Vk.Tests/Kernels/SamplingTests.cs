using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

public sealed class SamplingTests : VulkanTest
{
    [TestCase(1)]
    [TestCase(1000)]
    [TestCase(128_167)]
    public void Argmax_finds_the_largest_with_ties_to_the_lower_index(int n)
    {
        float[] logits = TestData.Uniform(n, n, scale: 10f);
        int best = n / 3;
        logits[best] = 50f;
        if (n > 10)
        {
            logits[n - 2] = 50f;   // a tie later in the vocabulary must lose
        }

        using GpuBuffer gl = Upload(logits, "logits"), tokens = Upload(new uint[] { 7, 7, 7 }, "tokens");
        ArgmaxKernel kernel = Gpu.Kernel((c, t) => new ArgmaxKernel(c, t));
        Context.Run(r => kernel.Record(r, gl.All, tokens.All, (uint)n, slot: 1));
        var result = new uint[3];
        tokens.Read<uint>(result);
        Assert.That(result, Is.EqualTo(new uint[] { 7, (uint)best, 7 }));
    }

    [TestCase(WeightFormat.F32)]
    [TestCase(WeightFormat.F16)]
    [TestCase(WeightFormat.Q8)]
    [TestCase(WeightFormat.Q4)]
    [TestCase(WeightFormat.Q4Z)]
    public void Embedding_rows_of_the_tokens(WeightFormat format)
    {
        const int Vocab = 300, Cols = 256;
        QuantizedMatrix table = MatVecTests.Matrix(format, Vocab, Cols, seed: 77);
        float[] all = table.Dequantize();
        uint[] ids = [5, 299, 0, 5];
        float[] expected = ids.SelectMany(t => all.Skip((int)t * Cols).Take(Cols)).ToArray();
        using DeviceMatrix e = DeviceMatrix.Upload(Context, "embedding", table);
        using GpuBuffer tokens = Upload(ids, "tokens");
        using var output = new GuardedOutput(Context, expected.Length, "h");
        using var kernel = new EmbedKernel(Context, Gpu.Tuning, format);
        Context.Run(r => kernel.Record(r, e, tokens.All, output.Range, (uint)ids.Length));
        Assert.That(output.Read(), Is.EqualTo(expected), "exactly the dequantized rows");
    }
}
