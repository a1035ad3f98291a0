using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Execution;

/// <summary>The whole model decoding on the GPU, token by token, against the CPU reference on a tiny random checkpoint.</summary>
public sealed class DecodeSessionTests : VulkanTest
{
    private static readonly int[] s_prompt = [127958, 9906, 1917, 220, 16, 17, 127962];

    /// <summary>A chat-shaped prompt of the tiny model.</summary>
    internal static int[] Prompt => [.. s_prompt];

    /// <summary>The reference over the weights as the device stores them in <paramref name="format"/>.</summary>
    internal static ReferenceModel<double> ReferenceFor(ModelWeights weights, WeightFormat format)
    {
        float[] Load(string name)
        {
            StoredTensor t = weights[name];
            bool quantized = t.Spec.Role is TensorRole.Linear or TensorRole.Embedding or TensorRole.LmHead;
            if (!quantized || format == WeightFormat.F32 || t is GptqTensor)
            {
                return t.ReadF32();   // GPTQ stays int4 on the device: its own values
            }

            long[] shape = t.Spec.Shape;
            return Quantizer.Quantize(t.ReadF32(), (int)shape[0], (int)shape[1], format.ForUnquantized()).Dequantize();
        }

        return new ReferenceModel<double>(TestModels.ReferenceConfig(weights.Config), Load);
    }

    // The issue asks for NMSE under 2e-3; measured here 2.6e-8 (F32, F16) to 8e-8 (Q8), the f16 KV cache being the
    // main difference from the reference. 1e-5 keeps a wide margin and still catches a wrong op.
    [TestCase(WeightFormat.F32, 1e-5)]
    [TestCase(WeightFormat.F16, 1e-5)]
    [TestCase(WeightFormat.Q8, 1e-5)]
    [TestCase(WeightFormat.Q4, 1e-5)]
    public void Prompt_logits_and_greedy_tokens_match_the_reference(WeightFormat format, double limit)
    {
        // Untied lm_head: with the tied one a tiny random model repeats its last token, and greedy tokens prove little.
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false }));
        ReferenceModel<double> reference = ReferenceFor(weights, format);
        double[][] expected = reference.Prefill(s_prompt);

        using var model = new DeviceModel(Context, weights, format);
        using var session = new DecodeSession(Context, model, maxPositions: 64);
        int vocab = weights.Config.VocabSize;
        var logits = new float[vocab];
        int next = 0;
        for (int p = 0; p < s_prompt.Length; p++)
        {
            next = session.Step(s_prompt[p]);
            session.Logits.Read<float>(logits);
            float[] want = expected[p].Select(v => (float)v).ToArray();
            AssertNmse.Close(want, logits, limit, $"{format} logits at prompt position {p}");
            TestContext.Out.WriteLine($"{format} position {p}: logits NMSE {Nmse.Compute(want, logits).Value:E2}");
            Assert.That(next, Is.EqualTo(ModelOps.ArgMax<double>(expected[p])), $"greedy token after position {p}");
        }

        // Greedy continuation: the GPU feeds its own argmax back; the reference decodes the same tokens.
        int steps = format == WeightFormat.F32 ? 32 : 8;
        var gpuTokens = new List<int>();
        var cpuTokens = new List<int>();
        int cpuNext = ModelOps.ArgMax<double>(expected[^1]);
        for (int i = 0; i < steps; i++)
        {
            gpuTokens.Add(next);
            cpuTokens.Add(cpuNext);
            next = session.Step(next);
            cpuNext = ModelOps.ArgMax<double>(reference.Decode(cpuTokens[^1]));
        }

        Assert.That(gpuTokens, Is.EqualTo(cpuTokens), $"{steps} greedy tokens on {format} weights");
        Assert.That(gpuTokens.Distinct().Count(), Is.GreaterThan(steps / 2), "tokens that depend on the step, not one repeated");
        Assert.That(session.Position, Is.EqualTo(s_prompt.Length + steps));
    }

    [TestCase(3)]    // a prompt longer than one chunk
    [TestCase(64)]   // the whole prompt in one chunk
    public void Chunked_prefill_on_the_multi_token_kernels_then_decode(int chunk)
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        ReferenceModel<double> reference = ReferenceFor(weights, WeightFormat.Q8);
        double[] expected = reference.Prefill(s_prompt)[^1];
        using var model = new DeviceModel(Context, weights, WeightFormat.Q8);
        using var session = new DecodeSession(Context, model, maxPositions: 64, prefillChunk: chunk);
        int next = session.Prefill(s_prompt);
        var logits = new float[weights.Config.VocabSize];
        session.Logits.Read<float>(logits);
        AssertNmse.Close(expected.Select(v => (float)v).ToArray(), logits, 1e-5, $"last prompt position after prefill in chunks of {chunk}");
        Assert.That(session.Position, Is.EqualTo(s_prompt.Length));

        var gpu = new List<int>();
        var cpu = new List<int>();
        int cpuNext = ModelOps.ArgMax<double>(expected);
        for (int i = 0; i < 8; i++)
        {
            gpu.Add(next);
            cpu.Add(cpuNext);
            next = session.Step(next);
            cpuNext = ModelOps.ArgMax<double>(reference.Decode(cpu[^1]));
        }

        Assert.That(gpu, Is.EqualTo(cpu), "decode continues from the cache the prefill filled");
    }

    [Test]
    public void A_gptq_int4_checkpoint_runs_as_it_is()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny(CheckpointFormat.GptqInt4)));
        ReferenceModel<double> reference = ReferenceFor(weights, WeightFormat.Q4Z);
        double[][] expected = reference.Prefill(s_prompt);
        using var model = new DeviceModel(Context, weights, WeightFormat.Q4Z);
        Assert.That(model.Layers[0].Qkv.Format, Is.EqualTo(WeightFormat.Q4Z), "GPTQ stays int4 with its own scales and zeros");
        using var session = new DecodeSession(Context, model, maxPositions: 32, prefillChunk: 4);
        int next = session.Prefill(s_prompt);
        var logits = new float[weights.Config.VocabSize];
        session.Logits.Read<float>(logits);
        AssertNmse.Close(expected[^1].Select(v => (float)v).ToArray(), logits, 1e-5, "GPTQ-Int4 logits");
        Assert.That(next, Is.EqualTo(ModelOps.ArgMax<double>(expected[^1])));
    }

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(true, true)]
    public void A_decode_step_allocates_no_managed_memory(bool sampled, bool overlap)
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        using var model = new DeviceModel(Context, weights, WeightFormat.Q4);
        using var session = new DecodeSession(Context, model, maxPositions: 64, overlapRecording: overlap);
        session.SetSampling(sampled ? new Sampling(0.8f, 20, 0.9f, Seed: 5, RepetitionPenalty: 1.1f) : Sampling.Greedy);
        int token = session.Prefill(s_prompt);
        for (int i = 0; i < 3; i++)
        {
            token = session.Step(token);   // first steps make the pipelines and descriptor sets
        }

        long submits = Context.Submits;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 16; i++)
        {
            token = session.Step(token);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.That(allocated, Is.Zero, "bytes allocated by 16 decode steps");
        Assert.That(Context.Submits - submits, Is.EqualTo(16), "one submit per token, none for the token's way in or out");
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Recording_the_next_step_during_this_one_changes_no_token(bool sampled)
    {
        // Untied lm_head: with the tied one a tiny random model repeats its last token whatever the step computes.
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false }));
        using var model = new DeviceModel(Context, weights, WeightFormat.Q8);
        Sampling sampling = sampled ? new Sampling(1.2f, 30, 0.95f, Seed: 9, RepetitionPenalty: 1.1f) : Sampling.Greedy;
        (int[] Tokens, float[] Logits) Run(bool overlap)
        {
            using var session = new DecodeSession(Context, model, maxPositions: 32, overlapRecording: overlap);
            Assert.That(session.OverlapsRecording, Is.EqualTo(overlap));
            session.SetSampling(sampling);
            var tokens = new List<int> { session.Prefill(s_prompt) };
            while (tokens.Count < 12)
            {
                tokens.Add(session.Step(tokens[^1]));
            }

            var logits = new float[weights.Config.VocabSize];
            session.Logits.Read<float>(logits);

            // A reset drops the step recorded ahead: the next run starts cleanly at position 0.
            session.Reset();
            session.SetSampling(sampling);
            Assert.That(session.Prefill(s_prompt), Is.EqualTo(tokens[0]));
            return ([.. tokens], logits);
        }

        (int[] overlapped, float[] overlappedLogits) = Run(overlap: true);
        (int[] plain, float[] plainLogits) = Run(overlap: false);
        Assert.That(overlapped, Is.EqualTo(plain));
        Assert.That(overlapped.Distinct().Count(), Is.GreaterThan(3), "the tokens depend on the step (not one token repeated)");
        Assert.That(overlappedLogits, Is.EqualTo(plainLogits), "the same commands, bit for bit");
    }

    [Test]
    public void A_page_of_kv_cache_is_one_binding_of_the_device()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        using var model = new DeviceModel(Context, weights, WeightFormat.Q8);
        HunyuanConfig c = weights.Config;
        foreach (KvCacheFormat kv in new[] { KvCacheFormat.F16, KvCacheFormat.Q8 })
        {
            ulong perPosition = (ulong)kv.BytesPerPosition(c.KvHeads, c.HeadDim);
            ulong limit = KvCache.PageLimit(Context.Info, perPosition);
            var l = Context.Info.Limits;
            static ulong Or(ulong v) => v > 0 ? v : ulong.MaxValue;   // 0: not reported
            ulong texels = l.MaxTexelBufferElements > 0 ? l.MaxTexelBufferElements * 4 : ulong.MaxValue;   // uint texels of K
            ulong bytes = Math.Min(Math.Min(l.MaxStorageBufferRange, Or(l.MaxMemoryAllocationSize)), Math.Min(Or(l.MaxBufferSize), texels));
            Assert.That(limit, Is.EqualTo(bytes / perPosition).Or.EqualTo(bytes / perPosition - 1), $"{kv}: a page is one binding (less one position where its texel rounding would not fit)");
            Assert.That(KvLayer.PageBytes(limit, perPosition), Is.LessThanOrEqualTo(bytes), $"{kv}: the page fits");
            using var session = new DecodeSession(Context, model, maxPositions: 300, kvFormat: kv);
            Assert.That(session.KvPagePositions, Is.EqualTo(300), $"{kv}: a context within one binding is one page per layer");
            Assert.That(session.KvCacheBytes, Is.EqualTo(2L * c.Layers * 300 * (long)perPosition));
        }

        Assert.That(KvCacheFormat.Q8.BytesPerPosition(8, 128) / (double)KvCacheFormat.F16.BytesPerPosition(8, 128), Is.EqualTo(136 / 256.0),
            "A13B's int8 rows: 128 values and 4 f16 scales, 53% of f16");
    }

    /// <summary>The same tokens through a session whose cache is in small pages and one whose cache is one page: prefill
    /// chunks, decode steps and a rewind all cross page boundaries; logits agree to rounding (splits fall differently)
    /// and greedy tokens are equal.</summary>
    [TestCase(KvCacheFormat.F16, 5)]
    [TestCase(KvCacheFormat.F16, 16)]
    [TestCase(KvCacheFormat.Q8, 7)]
    public void Pages_of_the_kv_cache_change_no_token(KvCacheFormat kv, int page)
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false }));
        using var model = new DeviceModel(Context, weights, WeightFormat.F32);
        using var paged = new DecodeSession(Context, model, 96, kv, page, prefillChunk: 6);
        using var whole = new DecodeSession(Context, model, 96, kv, 0, prefillChunk: 6);
        Assert.That(paged.KvPagePositions, Is.EqualTo(page));
        Assert.That(whole.KvPagePositions, Is.EqualTo(96));
        int[] prompt = [.. Enumerable.Range(0, 23).Select(i => (i * 7919 + 11) % weights.Config.VocabSize)];
        var a = new float[weights.Config.VocabSize];
        var b = new float[weights.Config.VocabSize];
        void Same(int ta, int tb, string what)
        {
            paged.Logits.Read<float>(a);
            whole.Logits.Read<float>(b);
            AssertNmse.Close(b, a, 1e-10, what);
            Assert.That(ta, Is.EqualTo(tb), what + ": token");
        }

        int na = paged.Prefill(prompt), nb = whole.Prefill(prompt);
        Same(na, nb, "after a prefill of 23 tokens in chunks of 6");
        var tokens = new List<int>();
        for (int i = 0; i < 20; i++)
        {
            tokens.Add(na);
            na = paged.Step(na);
            nb = whole.Step(nb);
            Same(na, nb, $"decode step {i} at position {paged.Position - 1}");
        }

        // Back to a position inside a page, then on again over the boundaries with other tokens.
        paged.Rewind(page * 2 + 1);
        whole.Rewind(page * 2 + 1);
        na = paged.Prefill(tokens[..9]);
        nb = whole.Prefill(tokens[..9]);
        Same(na, nb, $"a prefill after rewinding to {page * 2 + 1}");
        for (int i = 0; i < 5; i++)
        {
            na = paged.Step(na);
            nb = whole.Step(nb);
            Same(na, nb, $"decode step {i} after the rewind");
        }

        Assert.That(tokens.Distinct().Count(), Is.GreaterThan(5), "tokens that depend on the step");
    }

    /// <summary>The int8 cache against the f16 one over the same tokens (teacher-forced, so one near-tie cannot shift all
    /// that follows): the logits of 60 positions within NMSE 1e-3 (measured 1.6e-5 on Q4 weights, 8.7e-5 on F32), the
    /// median position's within 1e-4 (measured 1.3e-5 to 1.6e-5; one position of the 60 measured 4.4e-3 on F32 weights), and the greedy token equal
    /// wherever f16's top two are 0.05 apart or more.</summary>
    [TestCase(WeightFormat.F32)]
    [TestCase(WeightFormat.Q4)]
    public void An_int8_cache_against_the_f16_one(WeightFormat format)
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false }));
        using var model = new DeviceModel(Context, weights, format);
        using var f16 = new DecodeSession(Context, model, 128, kvFormat: KvCacheFormat.F16);
        using var q8 = new DecodeSession(Context, model, 128, kvFormat: KvCacheFormat.Q8);
        int vocab = weights.Config.VocabSize;
        var a = new List<float[]>();
        var b = new List<float[]>();
        int next = f16.Prefill(s_prompt);
        q8.Prefill(s_prompt);
        int compared = 0;
        for (int i = 0; i < 60; i++)
        {
            a.Add(new float[vocab]);
            b.Add(new float[vocab]);
            f16.Logits.Read<float>(a[^1]);
            q8.Logits.Read<float>(b[^1]);
            float[] top = [.. a[^1].OrderDescending().Take(2)];
            if (top[0] - top[1] >= 0.05f)
            {
                Assert.That(ModelOps.ArgMax<float>(b[^1]), Is.EqualTo(ModelOps.ArgMax<float>(a[^1])), $"greedy token at position {f16.Position - 1}");
                compared++;
            }

            int token = next;
            next = f16.Step(token);
            q8.Step(token);
        }

        double all = Nmse.Compute(a.SelectMany(x => x).ToArray(), b.SelectMany(x => x).ToArray()).Value;
        double[] each = [.. a.Zip(b, (x, y) => Nmse.Compute(x, y).Value).Order()];
        TestContext.Out.WriteLine($"{format}: int8 against f16 KV, logits NMSE {all:E2} over all positions, median {each[30]:E2}, worst {each[^1]:E2}; {compared} of 60 tokens compared");
        Assert.That(all, Is.LessThan(1e-3), "logits NMSE of the int8 cache against f16, all positions");
        Assert.That(each[30], Is.LessThan(1e-4), "the median position's logits NMSE");
        Assert.That(compared, Is.GreaterThan(30), "most positions have a clear greedy token");
    }

    [Test]
    public void A_tiny_model_runs_at_256k_positions_across_pages()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        using var model = new DeviceModel(Context, weights, WeightFormat.Q8);
        const int Context256K = 262_144;
        foreach (KvCacheFormat kv in new[] { KvCacheFormat.F16, KvCacheFormat.Q8 })
        {
            using var session = new DecodeSession(Context, model, Context256K, kv, kvPagePositions: 100_000);
            Assert.That(session.KvPagePositions, Is.EqualTo(100_000), "three pages, the last short");
            session.FillForBenchmark(Context256K - 40);
            int next = session.Prefill(s_prompt);
            var logits = new float[weights.Config.VocabSize];
            while (session.Position < Context256K)
            {
                next = session.Step(next);
                session.Logits.Read<float>(logits);
                Assert.That(logits.All(float.IsFinite), Is.True, $"{kv}: finite logits at position {session.Position - 1}");
            }

            Assert.That(() => session.Step(next), Throws.InvalidOperationException.With.Message.Contains("context is full"), "position 262,143 was the last");
        }
    }

    [Test]
    public void A_full_context_is_refused_with_a_clear_error()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        using var model = new DeviceModel(Context, weights, WeightFormat.Q8);
        using var session = new DecodeSession(Context, model, maxPositions: 2);
        session.Step(1);
        session.Step(2);
        Assert.That(() => session.Step(3), Throws.InvalidOperationException.With.Message.Contains("context is full"));
    }

    [Test]
    public void Counters_name_the_layers_of_the_command_buffer_they_count()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        using var model = new DeviceModel(Context, weights, WeightFormat.Q8);
        using var session = new DecodeSession(Context, model, maxPositions: 32);
        int layers = weights.Config.Layers;
        int token = session.Step(1);
        Range decode = session.LastStep.LayerDispatches;
        int decodeHead = session.LastStep.Dispatches - decode.End.Value;
        // #24 point 7: decode's combine writes the next layer's input norm (the final norm after the last layer), so
        // only the first layer runs rms_norm for its input: 12 dispatches there, 11 in every other layer (was 12 each);
        // on GPU rows the gate/up product routes too (no moe_route pass): 10.
        int perLayer = Gpu.Tuning.RoutesInGateUp ? 10 : 11;
        Assert.That(decode.End.Value - decode.Start.Value, Is.EqualTo(perLayer * layers + 1), $"decode: {perLayer} dispatches a layer, and the first layer's input norm");

        session.Prefill(s_prompt);
        Range prefill = session.LastStep.LayerDispatches;
        // Prefill's layer adds the expert grouping (moe_group) to decode's 12: a range left from the decode step is wrong.
        Assert.That(prefill.End.Value - prefill.Start.Value, Is.EqualTo(13 * layers), "prefill: 13 dispatches a layer");
        Assert.That(prefill.End.Value, Is.LessThan(session.LastStep.Dispatches), "the head follows the layers");
        Assert.That(session.LastStep.Dispatches - prefill.End.Value, Is.EqualTo(decodeHead + 1), "prefill's head runs the final norm, decode's last layer wrote it");

        session.Step(token);
        Assert.That(session.LastStep.LayerDispatches, Is.EqualTo(decode), "decode again");
    }
}
