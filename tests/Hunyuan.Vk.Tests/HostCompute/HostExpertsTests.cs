using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.HostCompute;

/// <summary>
/// Tokens through a layer's host experts against the reference SwiGLU on the dequantized weights in double-accumulated
/// float. The activation is quantized to int8 twice (x, then each expert's SwiGLU output): each costs about 2e-5 to
/// 5e-5 of NMSE on these random data (the SwiGLU products are heavier-tailed, so their blocks' scales are coarser), so the
/// limit is 2e-4; a wrong row, expert or weight gives NMSE near 1. Thread counts 1, 2 and 3 (odd: shares that do not split evenly), shapes
/// whose outputs are not a whole number of cache lines per thread; batches whose tokens share experts.
/// </summary>
public sealed class HostExpertsTests
{
    private const int Experts = 6, Slots = 4;

    [TestCase(WeightFormat.Q8, 96, 160, 1, 1)]
    [TestCase(WeightFormat.Q8, 96, 160, 3, 5)]
    [TestCase(WeightFormat.Q4, 224, 96, 2, 1)]
    [TestCase(WeightFormat.Q4, 224, 96, 3, 7)]
    [TestCase(WeightFormat.Q4Z, 256, 384, 2, 3)]
    [TestCase(WeightFormat.Q4Z, 384, 128, 3, 1)]
    [TestCase(WeightFormat.F32, 96, 160, 2, 3)]   // float experts (an F32 or F16 model on the host executor): no int8
    [TestCase(WeightFormat.F16, 64, 96, 3, 5)]
    public void Tokens_through_their_chosen_experts_match_the_reference(WeightFormat format, int hidden, int inter, int threads, int tokens)
    {
        var random = new Random(hidden + inter);
        QuantizedMatrix[] gateUp = [.. Enumerable.Range(0, Experts).Select(_ => QuantizedMatrix.Random(format, 2 * inter, hidden, random))];
        QuantizedMatrix[] down = [.. Enumerable.Range(0, Experts).Select(_ => QuantizedMatrix.Random(format, hidden, inter, random))];
        var layer = new HostExpertLayer(gateUp, down);
        // One more slot than the routed ones, holding the shared expert's id (= Experts): the runner skips it.
        var experts = new HostExperts(hidden, inter, Slots + 1, maxTokens: 8, maxExperts: Experts);
        float[] x = TestData.Uniform(5, tokens * hidden);
        x.CopyTo(experts.X, 0);
        var expected = new double[tokens * hidden];
        var chosen = new HashSet<int>();
        for (int t = 0; t < tokens; t++)
        {
            int[] ids = [.. Enumerable.Range(0, Experts).OrderBy(_ => random.Next()).Take(Slots)];
            float[] weights = [0.4f, 0.3f, 0.2f, 0.1f];
            for (int s = 0; s <= Slots; s++)
            {
                experts.RouteIds[t * (Slots + 1) + s] = s < Slots ? ids[s] : Experts;
                experts.RouteWeights[t * (Slots + 1) + s] = s < Slots ? weights[s] : 1f;
            }

            chosen.UnionWith(ids);
            for (int s = 0; s < Slots; s++)
            {
                float[] y = Reference(gateUp[ids[s]], down[ids[s]], x.AsSpan(t * hidden, hidden).ToArray(), inter);
                for (int r = 0; r < hidden; r++)
                {
                    expected[t * hidden + r] += weights[s] * y[r];
                }
            }
        }

        using var pool = new WorkerPool(threads);
        experts.Compute(pool, layer, tokens);
        float[] actual = experts.Y[..(tokens * hidden)];
        AssertNmse.Close([.. expected.Select(v => (float)v)], actual, 2e-4, $"{format} {tokens} tokens x {Slots} experts {hidden}x{inter} on {threads} threads");
        Assert.That(experts.ExpertsRead, Is.EqualTo(chosen.Count), "each chosen expert read once for the batch");
        long device = gateUp[0].DeviceBytes + down[0].DeviceBytes;
        Assert.That(layer.BytesPerExpert, Is.EqualTo(format == WeightFormat.F16 ? 2 * device : device + gateUp[0].Zeros.Length + down[0].Zeros.Length),
            "f16 scales as on the device, f16 zero points (a byte there); F16 held as f32");
        Assert.That(layer.BytesPerExpert, Is.EqualTo(HostMatrix.BytesFor(format, 2 * inter, hidden) + HostMatrix.BytesFor(format, hidden, inter)), "the estimate's bytes");

        // Token by token: the same values up to float summation order (a batch dots several tokens per weight block,
        // one accumulator each; alone, a row's blocks go to two accumulators).
        for (int t = 0; t < tokens; t++)
        {
            var alone = new HostExperts(hidden, inter, Slots + 1, maxTokens: 1, maxExperts: Experts);
            x.AsSpan(t * hidden, hidden).CopyTo(alone.X);
            experts.RouteIds.AsSpan(t * (Slots + 1), Slots + 1).CopyTo(alone.RouteIds);
            experts.RouteWeights.AsSpan(t * (Slots + 1), Slots + 1).CopyTo(alone.RouteWeights);
            alone.Compute(pool, layer, 1);
            AssertNmse.Close(actual.AsSpan(t * hidden, hidden).ToArray(), alone.Y, 1e-10, $"token {t} alone");
        }
    }

    private static float[] Reference(QuantizedMatrix gateUp, QuantizedMatrix down, float[] x, int inter)
    {
        int hidden = x.Length;
        float[] gu = gateUp.Dequantize();
        float[] gate = [.. Enumerable.Range(0, inter).SelectMany(i => gu.AsSpan(2 * i * hidden, hidden).ToArray())];
        float[] up = [.. Enumerable.Range(0, inter).SelectMany(i => gu.AsSpan((2 * i + 1) * hidden, hidden).ToArray())];
        var y = new float[hidden];
        ModelOps.SwiGlu<float>(gate, up, down.Dequantize(), x, y, inter);
        return y;
    }

    [Test]
    public void A_thread_that_fails_is_reported_to_the_caller_and_the_pool_still_runs()
    {
        using var pool = new WorkerPool(3);
        var e = Assert.Throws<AggregateException>(() => pool.Run(t =>
        {
            if (t == 2)
            {
                throw new InvalidOperationException("thread 2");
            }
        }));
        Assert.That(e!.InnerException!.Message, Is.EqualTo("thread 2"));
        int ran = 0;
        pool.Run(_ => Interlocked.Increment(ref ran));
        Assert.That(ran, Is.EqualTo(3));
        Assert.That(Enumerable.Range(0, 3).Select(t => pool.Share(t, 100)), Is.EqualTo(new[] { (0, 32), (32, 64), (64, 100) }), "whole cache lines of 16 floats");
    }

    [Test]
    public void A_negative_expert_id_is_refused_naming_the_token_and_slot()
    {
        QuantizedMatrix g = QuantizedMatrix.Random(WeightFormat.Q8, 64, 64, new Random(1)), d = QuantizedMatrix.Random(WeightFormat.Q8, 64, 32, new Random(2));
        var layer = new HostExpertLayer([g], [d]);
        var experts = new HostExperts(64, 32, 2, maxTokens: 2, maxExperts: 1);
        using var pool = new WorkerPool(1);
        experts.RouteIds[3] = -2;
        var e = Assert.Throws<InvalidOperationException>(() => experts.Compute(pool, layer, 2));
        Assert.That(e!.Message, Does.Contain("token 1 slot 1"));
    }
}
