using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.HostCompute;

/// <summary>
/// The host executor's kernels against the reference on random data, at shapes that are not multiples of their tiles
/// (rows not a whole number of cache lines per thread, token counts not a multiple of the dot's batch, head dimensions
/// not a multiple of the 32-wide loops, contexts not a multiple of attention's tile) and at 1, 2 and 3 threads.
/// </summary>
public sealed class HostKernelTests
{
    [Test]
    public void Every_f16_value_widens_to_what_the_runtime_makes_of_it()
    {
        var all = new Half[65536];
        for (int i = 0; i < all.Length; i++)
        {
            all[i] = BitConverter.UInt16BitsToHalf((ushort)i);
        }

        var widened = new float[all.Length + 3];
        HostVectors.ToSingle(all, widened);
        for (int i = 0; i < all.Length; i++)
        {
            float want = (float)all[i];
            Assert.That(BitConverter.SingleToUInt32Bits(widened[i]), Is.EqualTo(BitConverter.SingleToUInt32Bits(want)).Or.Matches<uint>(_ => float.IsNaN(want) && float.IsNaN(widened[i])),
                $"f16 0x{i:X4}: {want}");
        }
    }

    // NMSE limits: f32 products summed in another order than the double reference (1e-12 measured at most 1e-13);
    // int8 activations (one scale per 32 values) cost about 2e-5 on these data.
    [TestCase(WeightFormat.F32, 37, 96, 1, 1, 1e-10)]
    [TestCase(WeightFormat.F16, 53, 64, 5, 3, 1e-10)]
    [TestCase(WeightFormat.Q8, 70, 160, 7, 2, 1e-4)]
    [TestCase(WeightFormat.Q8, 33, 96, 1, 3, 1e-4)]
    [TestCase(WeightFormat.Q4, 45, 256, 6, 3, 1e-4)]
    [TestCase(WeightFormat.Q4, 129, 64, 2, 1, 1e-4)]
    public void Products_of_a_batch_of_tokens_match_the_reference(WeightFormat format, int rows, int cols, int tokens, int threads, double limit)
    {
        var random = new Random(rows * cols + tokens);
        QuantizedMatrix m = QuantizedMatrix.Random(format, rows, cols, random);
        float[] w = m.Dequantize();
        float[] x = TestData.Uniform(rows + tokens, tokens * cols);
        float[] before = TestData.Uniform(cols, tokens * rows);
        var expected = new float[tokens * rows];
        for (int t = 0; t < tokens; t++)
        {
            ModelOps.MatVec<float>(w, x.AsSpan(t * cols, cols), expected.AsSpan(t * rows, rows));
        }

        using var pool = new WorkerPool(threads);
        var product = new HostProduct(256, 8);
        var matrix = new HostMatrix(m);
        var y = new float[tokens * rows + 5];
        product.Run(pool, matrix, x, y, tokens);
        AssertNmse.Close(expected, y.AsSpan(0, tokens * rows), limit, $"{format} [{rows}, {cols}] x {tokens} tokens on {threads} threads");
        Assert.That(y[(tokens * rows)..], Is.All.EqualTo(0f), "nothing written past the tokens");

        // Accumulating: y += W x onto what was there.
        before.CopyTo(y, 0);
        product.Run(pool, matrix, x, y, tokens, accumulate: true);
        AssertNmse.Close([.. expected.Select((e, i) => e + before[i])], y.AsSpan(0, tokens * rows), limit, "accumulated");
    }

    [TestCase(WeightFormat.Q8)]
    [TestCase(WeightFormat.Q4)]
    [TestCase(WeightFormat.F16)]
    public void A_row_dequantizes_to_the_matrix_values(WeightFormat format)
    {
        QuantizedMatrix m = QuantizedMatrix.Random(format, 5, 96, new Random(3));
        float[] all = m.Dequantize();
        var row = new float[96];
        new HostMatrix(m).DequantizeRow(3, row);
        Assert.That(row, Is.EqualTo(all[(3 * 96)..(4 * 96)]));
    }

    // Attention against the reference's decode attention of each query position over the positions before it, the
    // cache in f16 (K and V rounded as the cache stores them) or int8. The f16 cache's values are fed to the reference
    // too (limit 1e-10); the int8 cache rounds them (measured ~1e-5).
    [TestCase(KvCacheFormat.F16, 8, 2, 16, 1, 0, 1, 1e-10)]      // one token, one position
    [TestCase(KvCacheFormat.F16, 8, 2, 40, 1, 70, 3, 1e-10)]     // a decode token past one tile
    [TestCase(KvCacheFormat.F16, 6, 3, 24, 5, 11, 2, 1e-10)]     // a prefill chunk after 11 cached positions
    [TestCase(KvCacheFormat.F16, 8, 2, 32, 1, 1500, 3, 1e-10)]   // a lone token over a long context: runs of positions, merged
    [TestCase(KvCacheFormat.F16, 4, 4, 64, 1, 700, 2, 1e-10)]
    [TestCase(KvCacheFormat.Q8, 8, 2, 32, 3, 90, 2, 1e-4)]
    [TestCase(KvCacheFormat.Q8, 8, 2, 32, 1, 1200, 3, 1e-4)]
    public void Causal_attention_over_the_cache_matches_the_reference(KvCacheFormat format, int heads, int kvHeads, int d, int tokens, int cached, int threads,
        double limit)
    {
        int positions = cached + tokens, kvDim = kvHeads * d;
        var cache = new HostKvCache(layers: 2, kvHeads, d, positions + 3, format);
        float[] k = TestData.Uniform(1, positions * kvDim), v = TestData.Uniform(2, positions * kvDim);
        float[] q = TestData.Uniform(3, tokens * heads * d, scale: 2f);
        for (int p = 0; p < positions; p++)
        {
            cache.Append(1, p, k.AsSpan(p * kvDim, kvDim), v.AsSpan(p * kvDim, kvDim));
        }

        // What the cache holds, [position][kv head][d], for the reference.
        var heldK = new float[positions * kvDim];
        var heldV = new float[positions * kvDim];
        var row = new float[d];
        for (int p = 0; p < positions; p++)
        {
            for (int g = 0; g < kvHeads; g++)
            {
                cache.Read(1, values: false, g, p, 1, row);
                row.CopyTo(heldK, p * kvDim + g * d);
                cache.Read(1, values: true, g, p, 1, row);
                row.CopyTo(heldV, p * kvDim + g * d);
            }
        }

        if (format == KvCacheFormat.F16)
        {
            Assert.That(heldK, Is.EqualTo(k.Select(f => (float)(Half)f)), "f16 K as stored");
        }
        else
        {
            AssertNmse.Close(k, heldK, 1e-4, "int8 K as stored");
        }

        var expected = new float[tokens * heads * d];
        for (int t = 0; t < tokens; t++)
        {
            ModelOps.DecodeAttention(q.AsSpan(t * heads * d, heads * d), heldK, heldV, heads, kvHeads, d, cached + t + 1, expected.AsSpan(t * heads * d, heads * d));
        }

        using var pool = new WorkerPool(threads);
        var attention = new HostAttention(heads, kvHeads, d, threads);
        var output = new float[tokens * heads * d];
        attention.Run(pool, cache, 1, q, output, tokens, cached);
        AssertNmse.Close(expected, output, format == KvCacheFormat.F16 ? limit : 1e-10, $"{tokens} tokens after {cached} positions, {threads} threads");
    }

    [Test]
    public void Routing_matches_the_reference_and_routes_logits_that_are_not_finite_in_range()
    {
        float[] logits = TestData.Uniform(9, 64, scale: 3f);
        logits[40] = logits[7];   // a tie: the lower index first
        (int[] experts, float[] weights) = ModelOps.Route<float>(logits, 8, normTopK: true, 1f);
        var ids = new int[9];
        var w = new float[9];
        HostOps.Route(logits, 8, normTopK: true, 1f, shared: true, ids, w, new float[64]);
        Assert.That(ids[..8], Is.EqualTo(experts));
        Assert.That(w[..8], Is.EqualTo(weights).Within(1e-6f));
        Assert.That((ids[8], w[8]), Is.EqualTo((64, 1f)), "the shared expert's slot");

        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            logits[13] = bad;
            HostOps.Route(logits, 8, normTopK: true, 1f, shared: true, ids, w, new float[64]);
            Assert.That(ids[..8], Is.EqualTo(Enumerable.Range(0, 8)), $"{bad}: experts 0..7");
            Assert.That(w[..8], Is.All.NaN, $"{bad}: weighted NaN");
            Assert.That(ids[8], Is.EqualTo(64));
        }
    }

    [Test]
    public void Greedy_takes_the_first_largest_and_refuses_logits_that_are_not_finite()
    {
        float[] logits = TestData.Uniform(4, 5000, scale: 4f);
        logits[123] = 9f;
        logits[4000] = 9f;
        Assert.That(HostSampler.Greedy(logits), Is.EqualTo(123));
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            float[] copy = [.. logits];
            copy[2500] = bad;
            Assert.That(HostSampler.Greedy(copy), Is.EqualTo(-1), $"{bad}");
        }

        // Past the last whole vector: the max, and a NaN.
        float[] tail = [.. logits, 1f, 10f, 10f];
        Assert.That(HostSampler.Greedy(tail), Is.EqualTo(5001));
        tail[5002] = float.NaN;
        Assert.That(HostSampler.Greedy(tail), Is.EqualTo(-1));
    }

    // As the device's sampling test: the candidate the reference's nucleus and cumulative weights give for u.
    [TestCase(128_167, 20, 0.7f, 0.8f)]
    [TestCase(1000, 64, 1.0f, 1.0f)]
    [TestCase(5000, 3, 1.0f, 0.999f)]
    [TestCase(50, 5, 0.5f, 0.3f)]
    public void Top_k_top_p_sampling_picks_what_the_reference_picks(int n, int topK, float temperature, float topP)
    {
        float[] logits = TestData.Uniform(n + topK, n, scale: 4f);
        logits[7 % n] = logits[3 % n];
        int[] order = [.. Enumerable.Range(0, n).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(topK)];
        double[] weights = [.. order.Select(i => Math.Exp((logits[i] - logits[order[0]]) / (double)temperature))];
        double total = weights.Sum(), mass = 0;
        int keep = order.Length;
        for (int i = 0; i < order.Length; i++)
        {
            mass += weights[i] / total;
            if (mass >= topP)
            {
                keep = i + 1;
                break;
            }
        }

        double kept = weights.Take(keep).Sum();
        var sampler = new HostSampler(n);
        for (int pick = 0; pick < keep; pick++)
        {
            // u in the middle of candidate pick's share.
            double before = weights.Take(pick).Sum();
            float u = (float)((before + weights[pick] / 2) / kept);
            Assert.That(sampler.Sample(logits, topK, temperature, topP, u), Is.EqualTo(order[pick]), $"u {u}: candidate {pick}");
        }

        logits[n / 2] = float.NaN;
        Assert.That(sampler.Sample(logits, topK, temperature, topP, 0.5f), Is.EqualTo(-1), "a NaN logit: no token");
    }

    [Test]
    public void The_repetition_penalty_applies_once_per_distinct_token()
    {
        float[] logits = [2f, -2f, 1f, 0.5f];
        var sampler = new HostSampler(4);
        float[] penalised = sampler.Penalise(logits, [0, 1, 0, 0], 2f).ToArray();
        Assert.That(penalised, Is.EqualTo(new[] { 1f, -4f, 1f, 0.5f }));
        Assert.That(logits, Is.EqualTo(new[] { 2f, -2f, 1f, 0.5f }), "the logits stay raw");
    }
}
