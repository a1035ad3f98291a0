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

    /// <summary>Ties spread over lanes, subgroups and passes of the workgroup (argmax reduces by subgroups, then walks
    /// one result per subgroup): the lowest index wins wherever it lies.</summary>
    [TestCase(new[] { 4999, 37, 1, 300, 2 }, 1)]
    [TestCase(new[] { 4000, 257, 513, 9 }, 9)]
    [TestCase(new[] { 4095, 4094 }, 4094)]
    public void Argmax_ties_across_subgroups_go_to_the_lowest_index(int[] ties, int want)
    {
        const int N = 5000;
        float[] logits = TestData.Uniform(N + ties.Length, N, scale: 10f);
        foreach (int t in ties)
        {
            logits[t] = 50f;
        }

        using GpuBuffer gl = Upload(logits, "logits"), tokens = Upload(new uint[] { 7 }, "tokens");
        ArgmaxKernel kernel = Gpu.Kernel((c, t) => new ArgmaxKernel(c, t));
        Context.Run(r => kernel.Record(r, gl.All, tokens.All, N));
        var result = new uint[1];
        tokens.Read<uint>(result);
        Assert.That(result[0], Is.EqualTo((uint)want));
    }

    [TestCase(128_167, 1)]
    [TestCase(128_167, 2)]
    [TestCase(128_167, 3)]
    [TestCase(100_000, 4)]
    public void Argmax_over_random_logits_matches_the_cpu(int n, int seed)
    {
        float[] logits = TestData.Uniform(seed, n, scale: 4f);
        int expected = Array.IndexOf(logits, logits.Max());
        using GpuBuffer gl = Upload(logits, "logits"), tokens = Context.CreateBuffer(4, "token");
        Context.Run(r => Gpu.Kernel((c, t) => new ArgmaxKernel(c, t)).Record(r, gl.All, tokens.All, (uint)n));
        var result = new uint[1];
        tokens.Read<uint>(result);
        Assert.That(result[0], Is.EqualTo((uint)expected), $"max {logits[expected]} at {expected}; the GPU chose {(result[0] < n ? logits[result[0]] : float.NaN)}");
    }

    [TestCase(128_167, 20, 0.7f, 0.8f, 0)]
    [TestCase(128_167, 20, 0.7f, 0.8f, 2)]
    [TestCase(128_167, 64, 1.5f, 1.0f, 50)]
    [TestCase(1000, 64, 1.0f, 1.0f, 40)]
    [TestCase(5000, 3, 1.0f, 0.999f, 1)]
    [TestCase(50, 5, 0.5f, 0.3f, 0)]
    public void Top_k_top_p_sampling_picks_what_the_reference_picks(int n, int topK, float temperature, float topP, int pick)
    {
        float[] logits = TestData.Uniform(n + topK, n, scale: 4f);
        logits[7 % n] = logits[3 % n];   // a tie: the lower index comes first
        int[] order = [.. Enumerable.Range(0, n).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(topK)];
        double[] weights = order.Select(i => Math.Exp((logits[i] - logits[order[0]]) / (double)temperature)).ToArray();
        double total = weights.Sum(), mass = 0;
        int keep = topK;
        for (int k = 0; k < topK; k++)
        {
            mass += weights[k] / total;
            if (mass >= topP)
            {
                keep = k + 1;
                break;
            }
        }

        pick = Math.Min(pick, keep - 1);
        double kept = weights.Take(keep).Sum();
        float u = (float)((weights.Take(pick).Sum() + weights[pick] / 2) / kept);   // the middle of the pick's interval

        using GpuBuffer gl = Upload(logits, "logits"), tokens = Upload(new uint[] { 9, 9 }, "tokens");
        using var sampler = new Sampler(Context, Gpu.Tuning, 128_167);
        Context.Run(r => sampler.Record(r, gl.All, tokens.All, (uint)n, topK, temperature, topP, u, slot: 1));

        var ids = new uint[Sampler.MaxK];
        var probs = new float[Sampler.MaxK];
        var chosen = new uint[2];
        sampler.CandidateIds.Buffer.Read<uint>(ids, sampler.CandidateIds.Offset);
        sampler.Probabilities.Buffer.Read<float>(probs, sampler.Probabilities.Offset);
        tokens.Read<uint>(chosen);
        Assert.That(ids[..topK], Is.EqualTo(order.Select(i => (uint)i).ToArray()), "the top-k candidates, ties in index order");
        Assert.That(probs[..keep], Is.EqualTo(weights.Take(keep).Select(w => (float)(w / kept)).ToArray()).Within(1e-5), "nucleus probabilities");
        Assert.That(probs[keep..topK], Is.All.EqualTo(0f), "outside the nucleus");
        Assert.That(chosen, Is.EqualTo(new uint[] { 9, (uint)order[pick] }));
    }

    /// <summary>#16: a NaN or infinite logit anywhere (first, mid-chunk, last; alone or among finite ones) gives no token
    /// (0xFFFFFFFF) from the greedy and the sampling kernels alike, so the host stops rather than decode garbage.</summary>
    [TestCase(0, float.NaN)]
    [TestCase(5000, float.NaN)]
    [TestCase(128_166, float.NaN)]
    [TestCase(4097, float.PositiveInfinity)]
    [TestCase(77, float.NegativeInfinity)]
    public void A_logit_that_is_not_finite_gives_no_token(int at, float bad)
    {
        const int Vocabulary = 128_167;
        float[] logits = TestData.Uniform(at + 1, Vocabulary, scale: 4f);
        logits[at] = bad;
        using GpuBuffer gl = Upload(logits, "logits"), tokens = Upload(new uint[] { 9, 9, 9 }, "tokens");
        using var sampler = new Sampler(Context, Gpu.Tuning, Vocabulary);
        ArgmaxKernel argmax = Gpu.Kernel((c, t) => new ArgmaxKernel(c, t));
        Context.Run(r =>
        {
            argmax.Record(r, gl.All, tokens.All, Vocabulary, slot: 0);
            sampler.Record(r, gl.All, tokens.All, Vocabulary, topK: 20, temperature: 0.7f, topP: 0.9f, u: 0.5f, slot: 2);
        });
        var result = new uint[3];
        tokens.Read<uint>(result);
        Assert.That(result, Is.EqualTo(new uint[] { 0xFFFFFFFF, 9, 0xFFFFFFFF }), $"{bad} at {at}: greedy, untouched, sampled");
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
