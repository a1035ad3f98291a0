using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.HostCompute;

/// <summary>
/// One token through a layer's host experts against the reference SwiGLU on the dequantized weights in double-accumulated
/// float. The activation is quantized to int8 twice (x, then each expert's SwiGLU output), so the limit is 1e-4, as for
/// the row kernels against a float activation. Thread counts 1, 2 and 3 (odd: shares that do not split evenly), shapes
/// whose outputs are not a whole number of cache lines per thread.
/// </summary>
public sealed class HostExpertsTests
{
    [TestCase(WeightFormat.Q8, 96, 160, 1)]
    [TestCase(WeightFormat.Q8, 96, 160, 3)]
    [TestCase(WeightFormat.Q4, 224, 96, 2)]
    [TestCase(WeightFormat.Q4, 224, 96, 3)]
    [TestCase(WeightFormat.Q4Z, 256, 384, 2)]
    [TestCase(WeightFormat.Q4Z, 384, 128, 3)]
    public void A_token_through_the_chosen_experts_matches_the_reference(WeightFormat format, int hidden, int inter, int threads)
    {
        const int Experts = 6, Slots = 4;
        var random = new Random(hidden + inter);
        QuantizedMatrix[] gateUp = [.. Enumerable.Range(0, Experts).Select(_ => QuantizedMatrix.Random(format, 2 * inter, hidden, random))];
        QuantizedMatrix[] down = [.. Enumerable.Range(0, Experts).Select(_ => QuantizedMatrix.Random(format, hidden, inter, random))];
        float[] x = TestData.Uniform(5, hidden);
        float[] y0 = TestData.Uniform(6, hidden);
        int[] ids = [4, 0, 5, 2];
        float[] weights = [0.4f, 0.3f, 0.2f, 0.1f];

        var expected = y0.Select(v => (double)v).ToArray();
        for (int s = 0; s < Slots; s++)
        {
            float[] gu = gateUp[ids[s]].Dequantize();
            float[] gate = [.. Enumerable.Range(0, inter).SelectMany(i => gu.AsSpan((2 * i) * hidden, hidden).ToArray())];
            float[] up = [.. Enumerable.Range(0, inter).SelectMany(i => gu.AsSpan((2 * i + 1) * hidden, hidden).ToArray())];
            var y = new float[hidden];
            ModelOps.SwiGlu<float>(gate, up, down[ids[s]].Dequantize(), x, y, inter);
            for (int r = 0; r < hidden; r++)
            {
                expected[r] += weights[s] * y[r];
            }
        }

        var experts = new HostExperts(gateUp, down, maxSlots: 8);
        using var pool = new WorkerPool(threads);
        float[] actual = [.. y0];
        experts.Compute(pool, x, ids, weights, Slots, actual);
        AssertNmse.Close([.. expected.Select(v => (float)v)], actual, 1e-4, $"{format} {Slots} experts {hidden}x{inter} on {threads} threads");
        Assert.That(experts.BytesPerToken(Slots), Is.EqualTo(Slots * (gateUp[0].DeviceBytes + down[0].DeviceBytes + 2L * (gateUp[0].Scales.Length + down[0].Scales.Length))), "f32 scales");

        float[] again = [.. y0];
        experts.Compute(pool, x, ids, weights, Slots, again);
        Assert.That(again, Is.EqualTo(actual), "the same token again: the same bits (no state carried over)");
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
    public void An_expert_id_out_of_range_is_refused_naming_the_slot()
    {
        QuantizedMatrix g = QuantizedMatrix.Random(WeightFormat.Q8, 64, 64, new Random(1)), d = QuantizedMatrix.Random(WeightFormat.Q8, 64, 32, new Random(2));
        var experts = new HostExperts([g], [d], maxSlots: 2);
        using var pool = new WorkerPool(1);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => experts.Compute(pool, new float[64], [0, 3], [0.5f, 0.5f], 2, new float[64]));
        Assert.That(e!.Message, Does.Contain("slot 1"));
    }
}
