using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

public sealed class AttentionTests : VulkanTest
{
    private static readonly double s_ropeBase = 10000 * Math.Pow(1000, 128.0 / 126);

    [TestCase(4, 2, 128, 1, 0)]
    [TestCase(4, 2, 128, 3, 17)]
    [TestCase(4, 1, 128, 1, 262_143)]    // the longest context the model supports: angles must stay exact
    [TestCase(32, 8, 128, 2, 4000)]     // A13B's heads
    [TestCase(8, 8, 64, 2, 1000)]
    public void Rope_then_qk_norm_then_kv_append(int heads, int kvHeads, int d, int tokens, int position0)
    {
        var shape = new AttentionShape(heads, kvHeads, d);
        float[] qkv = TestData.Uniform(heads + position0, tokens * shape.QkvDim, scale: 2f);
        float[] qNorm = TestData.Uniform(1, d).Select(v => 1 + v * 0.2f).ToArray();
        float[] kNorm = TestData.Uniform(2, d).Select(v => 1 + v * 0.2f).ToArray();
        const float Eps = 1e-5f;

        // Reference: per token and head, RoPE then RMSNorm (k and v rounded to f16 as the cache stores them).
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
                if (h < heads)
                {
                    f.CopyTo(q, t * shape.QueryDim + h * d);
                }
                else
                {
                    f.Select(x => (float)(Half)x).ToArray().CopyTo(h < heads + kvHeads ? k : v, t * shape.KvDim + (h - heads) % kvHeads * d);
                }
            }
        }

        using GpuBuffer gqkv = Upload(qkv, "qkv"), freq = Upload(RopeNormKvKernel.InverseFrequencies(d, s_ropeBase), "inv_freq");
        using GpuBuffer gqn = Upload(qNorm, "q_norm"), gkn = Upload(kNorm, "k_norm");
        ulong cacheBytes = (ulong)(position0 + tokens) * (ulong)shape.KvDim * 2;
        using GpuBuffer kCache = Context.CreateBuffer(cacheBytes, "k cache"), vCache = Context.CreateBuffer(cacheBytes, "v cache");
        using var qOut = new GuardedOutput(Context, q.Length, "q");
        RopeNormKvKernel kernel = Gpu.Kernel((c, t) => new RopeNormKvKernel(c, t));
        Context.Run(r => kernel.Record(r, shape, gqkv.All, freq.All, gqn.All, gkn.All, qOut.Range, kCache.All, vCache.All, (uint)tokens, (uint)position0, Eps));

        AssertNmse.Close(q, qOut.Read(), 1e-9, "q after RoPE and norm");
        ulong at = (ulong)position0 * (ulong)shape.KvDim * 2;
        var kh = new Half[k.Length];
        var vh = new Half[v.Length];
        kCache.Read<Half>(kh, at);
        vCache.Read<Half>(vh, at);
        AssertNmse.Close(k, kh.Select(x => (float)x).ToArray(), 1e-6, "k in the cache (f16)");
        Assert.That(vh.Select(x => (float)x), Is.EqualTo(v), "v in the cache: the projection rounded to f16");
    }

    [TestCase(4, 1, 64, 1)]
    [TestCase(4, 1, 64, 255)]
    [TestCase(32, 8, 128, 300)]   // A13B's heads, more positions than one split
    [TestCase(8, 4, 128, 1027)]
    [TestCase(32, 8, 128, 3000)]   // chunks shrunk to 192 on the GPU rows (16 splits), whole on the cpu row
    [TestCase(32, 8, 128, 5000)]   // past 16 whole chunks: 20 splits of 256 on every row
    public void Decode_attention_matches_reference(int heads, int kvHeads, int d, int kvLength)
    {
        var shape = new AttentionShape(heads, kvHeads, d);
        float[] q = TestData.Uniform(heads * kvLength, shape.QueryDim);
        (Half[] k, float[] kWide) = TestData.UniformHalf(3, kvLength * shape.KvDim, 2f);
        (Half[] v, float[] vWide) = TestData.UniformHalf(4, kvLength * shape.KvDim);
        var expected = new float[shape.QueryDim];
        ModelOps.DecodeAttention(q, kWide, vWide, heads, kvHeads, d, kvLength, expected);

        using var kernel = new AttentionDecodeKernel(Context, Gpu.Tuning, shape);
        using GpuBuffer gq = Upload(q, "q"), gk = Upload(k, "k cache"), gv = Upload(v, "v cache");
        using GpuBuffer partial = Context.CreateBuffer(kernel.PartialFloats((uint)kvLength) * 4, "partial");
        using var output = new GuardedOutput(Context, shape.QueryDim, "attention out");
        Context.Run(r => kernel.Record(r, gq.All, gk.All, gv.All, partial.All, output.Range, (uint)kvLength));

        // Attention: the design's 5e-4 is for f16 K/V against f32; here K/V are the same f16 values on both sides.
        AssertNmse.Close(expected, output.Read(), 1e-8, $"attention {heads}/{kvHeads} heads over {kvLength} positions");
    }

    [TestCase(1u, 256u)]
    [TestCase(16u, 256u)]
    [TestCase(16u, 64u)]
    public void Short_contexts_get_smaller_chunks_and_the_partials_bound_holds_for_every_length(uint minSplits, uint chunk)
    {
        DeviceTuning tuning = Gpu.Tuning with { AttentionMinSplits = minSplits, AttentionChunk = chunk };
        using var kernel = new AttentionDecodeKernel(Context, tuning, new AttentionShape(32, 8, 128));
        const uint Max = 6000;
        ulong bound = kernel.PartialFloats(Max);
        for (uint kv = 1; kv <= Max; kv++)
        {
            uint c = kernel.ChunkFor(kv);
            Assert.That(c, Is.LessThanOrEqualTo(chunk).And.GreaterThanOrEqualTo(Math.Min(32u, chunk)), $"chunk at {kv}");
            Assert.That(c % Math.Min(32u, chunk), Is.Zero, $"chunk at {kv} in steps of 32");
            uint splits = kernel.Splits(kv);
            Assert.That((ulong)splits * 32 * 130, Is.LessThanOrEqualTo(bound), $"partials at {kv} within the buffer made for {Max}");
            if (minSplits > 1 && kv >= 32 * minSplits && kv <= chunk * minSplits)
            {
                Assert.That(splits, Is.InRange(minSplits / 2, minSplits), $"splits at {kv} (a chunk in steps of 32 is under twice the wanted)");
            }
        }

        Assert.That(kernel.ChunkFor(3000, tokens: 7), Is.EqualTo(chunk), "prefill keeps whole chunks");
    }

    [TestCase(4, 2, 64, 5, 0)]      // prefill from the start: token t sees t + 1 positions
    [TestCase(4, 1, 128, 7, 300)]   // a chunk after 300 cached positions, crossing a split boundary
    [TestCase(32, 8, 128, 3, 10)]
    public void Causal_prefill_attention_matches_reference(int heads, int kvHeads, int d, int tokens, int position0)
    {
        var shape = new AttentionShape(heads, kvHeads, d);
        int kvLength = position0 + tokens;
        float[] q = TestData.Uniform(tokens + heads, tokens * shape.QueryDim);
        Half[] k = TestData.UniformHalf(5, kvLength * shape.KvDim, 2f).Half;
        Half[] v = TestData.UniformHalf(6, kvLength * shape.KvDim).Half;
        var expected = new float[tokens * shape.QueryDim];
        for (int t = 0; t < tokens; t++)
        {
            int visible = position0 + t + 1;
            for (int h = 0; h < heads; h++)
            {
                int kvh = h / shape.Group;
                var scores = new double[visible];
                for (int j = 0; j < visible; j++)
                {
                    double dot = 0;
                    for (int i = 0; i < d; i++)
                    {
                        dot += q[t * shape.QueryDim + h * d + i] * (double)k[j * shape.KvDim + kvh * d + i];
                    }

                    scores[j] = dot / Math.Sqrt(d);
                }

                ModelOps.Softmax<double>(scores);
                for (int i = 0; i < d; i++)
                {
                    expected[t * shape.QueryDim + h * d + i] = (float)Enumerable.Range(0, visible).Sum(j => scores[j] * (double)v[j * shape.KvDim + kvh * d + i]);
                }
            }
        }

        using var kernel = new AttentionDecodeKernel(Context, Gpu.Tuning, shape);
        using GpuBuffer gq = Upload(q, "q"), gk = Upload(k, "k cache"), gv = Upload(v, "v cache");
        using GpuBuffer partial = Context.CreateBuffer(kernel.PartialFloats((uint)kvLength, (uint)tokens) * 4, "partial");
        using var output = new GuardedOutput(Context, expected.Length, "attention out");
        Context.Run(r => kernel.RecordBatch(r, gq.All, gk.All, gv.All, partial.All, output.Range, (uint)tokens, (uint)position0));
        AssertNmse.Close(expected, output.Read(), 1e-8, $"causal attention, {tokens} tokens from position {position0}");
    }
}
