using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

public sealed class AttentionTests : VulkanTest
{
    private static readonly double s_ropeBase = 10000 * Math.Pow(1000, 128.0 / 126);

    [TestCase(4, 2, 128, 1, 0, KvCacheFormat.F16, 0)]
    [TestCase(4, 2, 128, 3, 17, KvCacheFormat.F16, 0)]
    [TestCase(4, 1, 128, 1, 262_143, KvCacheFormat.F16, 0)]    // the longest context the model supports: angles must stay exact
    [TestCase(32, 8, 128, 2, 4000, KvCacheFormat.F16, 0)]     // A13B's heads
    [TestCase(8, 8, 64, 2, 1000, KvCacheFormat.F16, 0)]
    [TestCase(4, 2, 128, 6, 998, KvCacheFormat.F16, 1000)]    // a batch across a page boundary: two dispatches
    [TestCase(4, 1, 128, 1, 262_143, KvCacheFormat.F16, 1000)] // the last position, in page 262 of small pages
    [TestCase(4, 2, 128, 3, 17, KvCacheFormat.Q8, 0)]
    [TestCase(32, 8, 128, 2, 4000, KvCacheFormat.Q8, 0)]
    [TestCase(8, 8, 64, 5, 1021, KvCacheFormat.Q8, 1024)]     // int8 across a page boundary (each page has its own scales)
    [TestCase(4, 1, 128, 2, 262_142, KvCacheFormat.Q8, 1000)]
    [TestCase(4, 2, 32, 3, 5, KvCacheFormat.Q8, 0)]           // one block per head row: half a scale word
    public void Rope_then_qk_norm_then_kv_append(int heads, int kvHeads, int d, int tokens, int position0, KvCacheFormat format, int pagePositions)
    {
        var shape = new AttentionShape(heads, kvHeads, d);
        float[] qkv = TestData.Uniform(heads + position0, tokens * shape.QkvDim, scale: 2f);
        float[] qNorm = TestData.Uniform(1, d).Select(v => 1 + v * 0.2f).ToArray();
        float[] kNorm = TestData.Uniform(2, d).Select(v => 1 + v * 0.2f).ToArray();
        const float Eps = 1e-5f;

        // Reference: per token and head, RoPE then RMSNorm.
        var q = new float[tokens * shape.QueryDim];
        var k = new float[tokens * shape.KvDim];
        var v = new float[tokens * shape.KvDim];
        for (int t = 0; t < tokens; t++)
        {
            for (int h = 0; h < heads + 2 * kvHeads; h++)
            {
                double[] head = qkv.AsSpan(t * shape.QkvDim + h * d, d).ToArray().Select(x => (double)x).ToArray();
                if (h < heads + kvHeads)
                {
                    ModelOps.Rope<double>(head, position0 + t, s_ropeBase);
                    var normed = new double[d];
                    ModelOps.RmsNorm<double>(head, (h < heads ? qNorm : kNorm).Select(x => (double)x).ToArray(), normed, Eps);
                    head = normed;
                }

                float[] f = head.Select(x => (float)x).ToArray();
                f.CopyTo(h < heads ? q : h < heads + kvHeads ? k : v, h < heads ? t * shape.QueryDim + h * d : t * shape.KvDim + (h - heads) % kvHeads * d);
            }
        }

        // The cache covers the batch's positions: pages of the given size (0: one page from 0), only the touched ones read.
        int pageSize = pagePositions > 0 ? pagePositions : position0 + tokens;
        var owned = new List<GpuBuffer>();
        using GpuBuffer gqkv = Upload(qkv, "qkv"), freq = Upload(RopeNormKvKernel.InverseFrequencies(d, s_ropeBase), "inv_freq");
        using GpuBuffer gqn = Upload(qNorm, "q_norm"), gkn = Upload(kNorm, "k_norm");
        using var qOut = new GuardedOutput(Context, q.Length, "q");
        try
        {
            KvLayer cache = KvPages.Empty(Context, position0 + tokens, format, kvHeads, d, pageSize, owned);
            using var kernel = new RopeNormKvKernel(Context, Gpu.Tuning, format);
            Context.Run(r => kernel.Record(r, shape, gqkv.All, freq.All, gqn.All, gkn.All, qOut.Range, cache, (uint)tokens, (uint)position0, Eps));
            AssertNmse.Close(q, qOut.Read(), 1e-9, "q after RoPE and norm");

            (float[] kGot, float[] kScales) = ReadPositions(cache, cache.K, kvHeads, d, position0, tokens);
            (float[] vGot, float[] vScales) = ReadPositions(cache, cache.V, kvHeads, d, position0, tokens);
            if (format == KvCacheFormat.F16)
            {
                AssertNmse.Close(k.Select(x => (float)(Half)x).ToArray(), kGot, 1e-6, "k in the cache (f16)");
                AssertRoundedToHalf(v, vGot, "v in the cache: the projection rounded to f16");
                return;
            }

            // int8: every block's scale is its max |x| / 127 in f16 (one f16 step apart at most: the GPU's k is f32), and
            // every value within half a step of what it stands for.
            AssertWithinHalfAStep(k, kGot, kScales, d, "k", 1e-5);
            AssertWithinHalfAStep(v, vGot, vScales, d, "v", 0);
            AssertNmse.Close(k, kGot, 1e-3, "k in the int8 cache against f32");
        }
        finally
        {
            owned.ForEach(b => b.Dispose());
        }
    }

    private static (float[] Values, float[] Scales) ReadPositions(KvLayer cache, GpuBuffer[] pages, int kvHeads, int d, int position0, int tokens)
    {
        var values = new List<float>();
        var scales = new List<float>();
        KvCacheFormat format = cache.Format;
        int pageSize = (int)cache.PagePositions;
        (float[] Values, float[] Scales)[] unpacked = [.. pages.Select((p, i) =>
            KvPages.Unpack(KvPages.Read(p, (int)cache.Rows[i] * KvPages.WordsPerPosition(format, kvHeads, d)), format, kvHeads, d))];
        for (int position = position0; position < position0 + tokens; position++)
        {
            (float[] pv, float[] ps) = unpacked[position / pageSize];
            int at = position % pageSize * kvHeads * d;
            values.AddRange(pv.AsSpan(at, kvHeads * d).ToArray());
            scales.AddRange(ps.AsSpan(at, kvHeads * d).ToArray());
        }

        return ([.. values], [.. scales]);
    }

    /// <summary>#24 point 5: each of <paramref name="got"/> is its exact value rounded to f16 to nearest even, or toward
    /// zero (packHalf2x16's rounding is the driver's: lavapipe rounds to nearest, some GPUs truncate); nothing else.</summary>
    private static void AssertRoundedToHalf(float[] exact, float[] got, string what)
    {
        Assert.That(got, Has.Length.EqualTo(exact.Length), what);
        for (int i = 0; i < exact.Length; i++)
        {
            Half nearest = (Half)exact[i];
            Half towardZero = Math.Abs((float)nearest) > Math.Abs(exact[i])
                ? BitConverter.UInt16BitsToHalf((ushort)(BitConverter.HalfToUInt16Bits(nearest) - 1))   // one step toward zero (same sign)
                : nearest;
            Assert.That(got[i], Is.EqualTo((float)nearest).Or.EqualTo((float)towardZero), $"{what}: [{i}] = {got[i]} for {exact[i]}");
        }
    }

    private static void AssertWithinHalfAStep(float[] exact, float[] got, float[] scales, int d, string what, double slack)
    {
        for (int b = 0; b < exact.Length / 32; b++)
        {
            float amax = Enumerable.Range(32 * b, 32).Max(i => Math.Abs(exact[i]));
            float wanted = (float)(Half)(amax / 127f), scale = scales[32 * b];
            Assert.That(Math.Abs(scale - wanted), Is.LessThanOrEqualTo(wanted * (1 / 1024.0) * 1.01 + 1e-12), $"{what} block {b}: scale {scale}, max/127 in f16 {wanted}");
            for (int i = 32 * b; i < 32 * b + 32; i++)
            {
                Assert.That(Math.Abs(got[i] - exact[i]), Is.LessThanOrEqualTo(0.5 * scale * (1 + 1e-4) + slack * amax), $"{what}[{i}] = {got[i]} for {exact[i]} (step {scale})");
            }
        }
    }

    [TestCase(4, 1, 64, 1, KvCacheFormat.F16, 0)]
    [TestCase(4, 1, 64, 255, KvCacheFormat.F16, 0)]
    [TestCase(32, 8, 128, 300, KvCacheFormat.F16, 0)]   // A13B's heads, more positions than one split
    [TestCase(8, 4, 128, 1027, KvCacheFormat.F16, 0)]
    [TestCase(32, 8, 128, 3000, KvCacheFormat.F16, 0)]   // chunks shrunk to 192 on the GPU rows (16 splits), whole on the cpu row
    [TestCase(32, 8, 128, 5000, KvCacheFormat.F16, 0)]   // past 16 whole chunks: several chunks per split on the cpu row
    [TestCase(8, 2, 128, 1000, KvCacheFormat.F16, 300)]  // four pages, the last short; splits never cross a page
    [TestCase(8, 2, 128, 600, KvCacheFormat.F16, 256)]   // page boundaries on chunk boundaries
    [TestCase(4, 1, 64, 255, KvCacheFormat.Q8, 0)]
    [TestCase(32, 8, 128, 5000, KvCacheFormat.Q8, 0)]
    [TestCase(8, 2, 128, 1000, KvCacheFormat.Q8, 300)]
    [TestCase(4, 2, 32, 77, KvCacheFormat.Q8, 50)]
    public void Decode_attention_matches_reference(int heads, int kvHeads, int d, int kvLength, KvCacheFormat format, int pagePositions) =>
        DecodeAttention(Gpu.Tuning, heads, kvHeads, d, kvLength, format, pagePositions);

    /// <summary>The fallback for devices that cannot promise full subgroups: an invocation per position, the queries
    /// in shared memory (the cpu row and the GPU rows take the subgroup path).</summary>
    [TestCase(32, 8, 128, 5000, KvCacheFormat.F16, 0)]
    [TestCase(8, 2, 128, 1000, KvCacheFormat.Q8, 300)]
    [TestCase(4, 2, 32, 77, KvCacheFormat.Q8, 50)]
    [TestCase(4, 1, 64, 255, KvCacheFormat.F16, 100)]
    public void One_lane_attention_matches_reference(int heads, int kvHeads, int d, int kvLength, KvCacheFormat format, int pagePositions) =>
        DecodeAttention(Gpu.Tuning with { AttentionLanes = 1 }, heads, kvHeads, d, kvLength, format, pagePositions);

    private static void DecodeAttention(DeviceTuning tuning, int heads, int kvHeads, int d, int kvLength, KvCacheFormat format, int pagePositions)
    {
        var shape = new AttentionShape(heads, kvHeads, d);
        float[] q = TestData.Uniform(heads * kvLength, shape.QueryDim);
        float[] expected = new float[shape.QueryDim];
        var owned = new List<GpuBuffer>();
        try
        {
            (KvLayer cache, float[] k, float[] v) = RandomCache(shape, kvLength, format, pagePositions > 0 ? pagePositions : kvLength, owned);
            ModelOps.DecodeAttention(q, k, v, heads, kvHeads, d, kvLength, expected);
            using var kernel = new AttentionDecodeKernel(Context, tuning, shape, format);
            using GpuBuffer gq = Upload(q, "q");
            using GpuBuffer partial = Context.CreateBuffer(kernel.Splits.PartialFloats((uint)kvLength, 1, cache.PagePositions) * 4, "partial");
            using var output = new GuardedOutput(Context, shape.QueryDim, "attention out");
            Context.Run(r => kernel.Record(r, gq.All, cache, partial.All, output.Range, (uint)kvLength));

            // The design's 5e-4 is for f16 K/V against f32; here both sides read the same stored values.
            AssertNmse.Close(expected, output.Read(), 1e-8, $"attention {heads}/{kvHeads} heads over {kvLength} positions, {format}, pages of {cache.PagePositions}");
        }
        finally
        {
            owned.ForEach(b => b.Dispose());
        }
    }

    /// <summary>A cache of random K (scale 2) and V in <paramref name="format"/>, and the values it stands for.</summary>
    private static (KvLayer Cache, float[] K, float[] V) RandomCache(AttentionShape shape, int positions, KvCacheFormat format, int pagePositions, List<GpuBuffer> owned)
    {
        (uint[][] kPages, float[] k) = KvPages.Pack(TestData.Uniform(3 + positions, positions * shape.KvDim, 2f), format, shape.KvHeads, shape.HeadDim, pagePositions);
        (uint[][] vPages, float[] v) = KvPages.Pack(TestData.Uniform(4 + positions, positions * shape.KvDim), format, shape.KvHeads, shape.HeadDim, pagePositions);
        return (KvPages.Upload(Context, kPages, vPages, format, pagePositions, positions, owned), k, v);
    }

    [TestCase(1u, 256u, 64u, 0u, KvCacheFormat.F16)]
    [TestCase(16u, 256u, 64u, 0u, KvCacheFormat.F16)]
    [TestCase(16u, 64u, 64u, 0u, KvCacheFormat.F16)]
    [TestCase(1u, 256u, 16u, 65535u, KvCacheFormat.F16)]   // the cpu row: splits capped by lavapipe's loop budget
    [TestCase(1u, 256u, 16u, 65535u, KvCacheFormat.Q8)]
    public void Plans_split_every_length_within_the_bounds(uint minSplits, uint chunk, uint maxSplits, uint budget, KvCacheFormat format)
    {
        DeviceTuning tuning = Gpu.Tuning with { AttentionMinSplits = minSplits, AttentionChunk = chunk, AttentionMaxSplits = maxSplits, AttentionLoopBudget = budget };
        using var kernel = new AttentionDecodeKernel(Context, tuning, new AttentionShape(32, 8, 128), format);
        foreach ((uint max, uint page) in new[] { (6000u, uint.MaxValue), (40_000u, 7000u), (262_144u, 65_536u) })
        {
            ulong bound = kernel.Splits.PartialFloats(max, 1, page);
            ulong prefillBound = kernel.Splits.PartialFloats(max, 5, page);
            for (uint kv = 1; kv <= max; kv += kv < 7000 ? 1u : 97u)
            {
                AttentionPlan plan = kernel.Splits.Plan(kv, 1, page);
                Assert.That(plan.Chunk, Is.LessThanOrEqualTo(chunk).And.GreaterThanOrEqualTo(Math.Min(32u, chunk)), $"chunk at {kv}");
                Assert.That(plan.Chunk % Math.Min(32u, chunk), Is.Zero, $"chunk at {kv} in steps of 32");
                Assert.That(plan.Span % plan.Chunk, Is.Zero, $"span at {kv}: whole chunks");
                Assert.That(plan.Span / plan.Chunk, Is.LessThanOrEqualTo(kernel.Splits.ChunksPerSplitLimit(plan.Chunk)), $"chunks per split at {kv} within the loop budget");
                ulong pages = (kv + (ulong)page - 1) / page, whole = (kv + (ulong)plan.Span - 1) / plan.Span;
                Assert.That((ulong)plan.Splits, Is.InRange(whole, whole + pages - 1), $"splits at {kv}: the span's, plus at most one per page boundary");
                Assert.That((ulong)plan.Splits * 32 * 130, Is.LessThanOrEqualTo(bound), $"partials at {kv} within the buffer made for {max}");
                Assert.That(5UL * kernel.Splits.Plan(kv, 5, page).Splits * 32 * 130, Is.LessThanOrEqualTo(prefillBound), $"prefill partials at {kv}");
                if (budget == 0 && kv > chunk * maxSplits * 2)
                {
                    Assert.That(plan.Splits, Is.LessThanOrEqualTo(maxSplits + pages - 1), $"a long context at {kv} keeps {maxSplits} splits per page run");
                }

                if (minSplits > 1 && kv >= 32 * minSplits && kv <= chunk * minSplits)
                {
                    Assert.That(plan.Splits, Is.InRange(minSplits / 2, minSplits), $"splits at {kv} (a chunk in steps of 32 is under twice the wanted)");
                }
            }
        }

        Assert.That(kernel.Splits.ChunkFor(3000, tokens: 7), Is.EqualTo(chunk), "prefill keeps whole chunks");
    }

    [TestCase(4, 2, 64, 5, 0, KvCacheFormat.F16, 0)]      // prefill from the start: token t sees t + 1 positions
    [TestCase(4, 1, 128, 7, 300, KvCacheFormat.F16, 0)]   // a chunk after 300 cached positions, crossing a split boundary
    [TestCase(32, 8, 128, 3, 10, KvCacheFormat.F16, 0)]
    [TestCase(4, 2, 64, 9, 295, KvCacheFormat.F16, 100)]  // tokens in two pages; earlier tokens see fewer splits
    [TestCase(4, 2, 64, 9, 295, KvCacheFormat.Q8, 100)]
    [TestCase(8, 2, 128, 3, 40_000, KvCacheFormat.F16, 16_384)]   // a long cache: splits of several chunks, capped by the loop budget on lavapipe
    [TestCase(8, 2, 128, 3, 40_000, KvCacheFormat.Q8, 0)]
    public void Causal_prefill_attention_matches_reference(int heads, int kvHeads, int d, int tokens, int position0, KvCacheFormat format, int pagePositions)
    {
        var shape = new AttentionShape(heads, kvHeads, d);
        int kvLength = position0 + tokens;
        float[] q = TestData.Uniform(tokens + heads, tokens * shape.QueryDim);
        var owned = new List<GpuBuffer>();
        try
        {
            (KvLayer cache, float[] k, float[] v) = RandomCache(shape, kvLength, format, pagePositions > 0 ? pagePositions : kvLength, owned);
            var expected = new float[tokens * shape.QueryDim];
            for (int t = 0; t < tokens; t++)
            {
                ModelOps.DecodeAttention(q.AsSpan(t * shape.QueryDim, shape.QueryDim).ToArray(), k, v, heads, kvHeads, d, position0 + t + 1,
                    expected.AsSpan(t * shape.QueryDim, shape.QueryDim));
            }

            using var kernel = new AttentionDecodeKernel(Context, Gpu.Tuning, shape, format);
            using GpuBuffer gq = Upload(q, "q");
            using GpuBuffer partial = Context.CreateBuffer(kernel.Splits.PartialFloats((uint)kvLength, (uint)tokens, cache.PagePositions) * 4, "partial");
            using var output = new GuardedOutput(Context, expected.Length, "attention out");
            Context.Run(r => kernel.RecordBatch(r, gq.All, cache, partial.All, output.Range, (uint)tokens, (uint)position0));
            AssertNmse.Close(expected, output.Read(), 1e-8, $"causal attention, {tokens} tokens from position {position0}, {format}, pages of {cache.PagePositions}");
        }
        finally
        {
            owned.ForEach(b => b.Dispose());
        }
    }
}
