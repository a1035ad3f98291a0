using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Tests.Parity;

namespace Hunyuan.Vk.Tests.Execution;

/// <summary>The host executor (the whole model on the CPU's cores) against the CPU reference, the goldens and the
/// device: the same limits as the device path, at 1, 2 and 3 threads.</summary>
public sealed class HostSessionTests
{
    private static int[] Prompt => DecodeSessionTests.Prompt;

    // DecodeSessionTests' limit for the float formats. The quantized products take int8 activations on the host (one
    // scale per 32 values, as the host expert kernels and llama.cpp's CPU backend do), which the device's float
    // activations do not: measured 1.0e-4 (Q8) and 1.4e-4 (Q4) against the reference over the same weights.
    [TestCase(WeightFormat.F32, 1e-5, 1)]
    [TestCase(WeightFormat.F32, 1e-5, 3)]
    [TestCase(WeightFormat.F16, 1e-5, 2)]
    [TestCase(WeightFormat.Q8, 5e-4, 2)]
    [TestCase(WeightFormat.Q4, 5e-4, 3)]
    [TestCase(WeightFormat.Q4, 5e-4, 1)]
    public void Prompt_logits_and_greedy_tokens_match_the_reference(WeightFormat format, double limit, int threads)
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false }));
        ReferenceModel<double> reference = DecodeSessionTests.ReferenceFor(weights, format);
        double[][] expected = reference.Prefill(Prompt);
        HostModel model = HostModel.Load(weights, format);
        using var session = new HostSession(model, maxPositions: 64, threads: threads);
        var logits = new float[weights.Config.VocabSize];
        int next = 0;
        for (int p = 0; p < Prompt.Length; p++)
        {
            next = session.Step(Prompt[p]);
            session.ReadLogits(logits);
            float[] want = [.. expected[p].Select(v => (float)v)];
            TestContext.Out.WriteLine($"{format} position {p}: logits NMSE {Nmse.Compute(want, logits).Value:E2}");
            AssertNmse.Close(want, logits, limit, $"{format} logits at prompt position {p}");
            Assert.That(next, Is.EqualTo(ModelOps.ArgMax<double>(expected[p])), $"greedy token after position {p}");
        }

        // Greedy continuation, the reference decoding the host's tokens: on float weights the same tokens; on quantized
        // ones each host token is the reference's best or within a near-tie of it (int8 activations move logits by
        // about 0.01 here, and a random model's logits have near-ties).
        int steps = format == WeightFormat.F32 ? 24 : 8;
        var host = new List<int>();
        double[] refLogits = expected[^1];
        for (int i = 0; i < steps; i++)
        {
            int best = ModelOps.ArgMax<double>(refLogits);
            if (format is WeightFormat.F32 or WeightFormat.F16)
            {
                Assert.That(next, Is.EqualTo(best), $"greedy token {i} on {format} weights");
            }
            else
            {
                Assert.That(refLogits[next], Is.GreaterThan(refLogits[best] - 0.05), $"greedy token {i} on {format} weights: {next} where the reference has {best}");
            }

            host.Add(next);
            next = session.Step(next);
            refLogits = reference.Decode(host[^1]);
        }

        Assert.That(host.Distinct().Count(), Is.GreaterThan(steps / 2), "tokens that depend on the step, not one repeated");
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    public void Prefill_in_chunks_gives_the_logits_and_token_of_one_step_at_a_time(int threads)
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false }));
        HostModel model = HostModel.Load(weights, WeightFormat.Q8);
        int[] prompt = [.. Prompt, .. Prompt, 5, 6, 7];   // 17 tokens: chunks of 5, 5, 5 and 2
        using var stepped = new HostSession(model, maxPositions: 64, threads: threads);
        using var chunked = new HostSession(model, maxPositions: 64, prefillChunk: 5, threads: threads);
        int one = 0;
        foreach (int t in prompt)
        {
            one = stepped.Step(t);
        }

        int all = chunked.Prefill(prompt);
        var a = new float[weights.Config.VocabSize];
        var b = new float[weights.Config.VocabSize];
        stepped.ReadLogits(a);
        chunked.ReadLogits(b);
        AssertNmse.Close(a, b, 1e-10, "last prompt position's logits, chunked against one at a time");
        Assert.That(all, Is.EqualTo(one));
        Assert.That(chunked.Position, Is.EqualTo(prompt.Length));
        Assert.That(chunked.SharedPrefix([.. Prompt, 1]), Is.EqualTo(Prompt.Length));
    }

    // The device's limits (ParityTests.Engine_matches_the_goldens), on the host executor.
    [TestCase("tiny-dense", WeightFormat.F32, 1e-6, true, KvCacheFormat.F16)]
    [TestCase("tiny-dense", WeightFormat.F16, 1e-6, true, KvCacheFormat.F16)]
    [TestCase("tiny-dense", WeightFormat.Q8, 2e-3, false, KvCacheFormat.F16)]
    [TestCase("tiny-dense", WeightFormat.Q4, 1e-1, false, KvCacheFormat.F16)]
    [TestCase("tiny-gptq-int4", WeightFormat.Q4Z, 5e-2, false, KvCacheFormat.F16)]
    [TestCase("tiny-gptq-int4", WeightFormat.F32, 1e-6, true, KvCacheFormat.F16)]
    [TestCase("tiny-dense", WeightFormat.F32, 1e-3, true, KvCacheFormat.Q8)]
    [TestCase("tiny-gptq-int4", WeightFormat.F32, 1e-3, true, KvCacheFormat.Q8)]
    public void Host_executor_matches_the_goldens(string name, WeightFormat format, double limit, bool exactGreedy, KvCacheFormat kv)
    {
        const int Chunk = 16;
        Golden golden = Golden.Load(name);
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(golden.Generator));
        golden.CheckCheckpoint(weights.Directory);
        HunyuanConfig c = weights.Config;
        HostModel model = HostModel.Load(weights, format);
        using var session = new HostSession(model, maxPositions: 64, prefillChunk: Chunk, kvFormat: kv, threads: 2);
        GoldenCheck.Run(session, golden, c, limit, exactGreedy, $"{name} {format} kv {kv.Name()} on the host", ids =>
        {
            session.Reset();
            Assert.That(ids, Has.Length.LessThanOrEqualTo(Chunk), "one chunk, so the capture holds every position");
            session.HiddenStates = new float[(c.Layers + 1) * ids.Length * c.HiddenSize];
            int next = session.Prefill(ids);
            float[] states = session.HiddenStates;
            session.HiddenStates = null;
            return (next, states);
        });
    }

    /// <summary>A step allocates nothing, on the caller's thread or the pool's. The caller's bytes are counted as of its
    /// last phase, which ends each step (the head's product); the first windows may see the runtime's own warm-up, so
    /// windows of 50 steps are measured until one allocates nothing (an allocation per step shows in every window).</summary>
    [Test]
    public void Decode_steps_allocate_nothing()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        using var session = new HostSession(HostModel.Load(weights, WeightFormat.Q4), maxPositions: 600, threads: 3);
        session.SetSampling(new Sampling(0.8f, 40, 0.95f, Seed: 3, RepetitionPenalty: 1.1f));
        int token = session.Prefill(Prompt);
        var windows = new List<long>();
        while (windows.Count < 10 && (windows.Count == 0 || windows[^1] != 0))
        {
            long before = session.AllocatedBytes + GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 50; i++)
            {
                token = Math.Max(0, session.Step(token));
            }

            windows.Add(session.AllocatedBytes + GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.That(windows[^1], Is.Zero, $"bytes allocated by windows of 50 sampled decode steps on 3 threads: {string.Join(", ", windows)}");
    }
}
