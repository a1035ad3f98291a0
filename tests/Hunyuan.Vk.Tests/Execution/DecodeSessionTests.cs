using Hunyuan.Vk.Execution;
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
    public void A_context_beyond_one_binding_of_kv_cache_is_refused_before_allocating()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        using var model = new DeviceModel(Context, weights, WeightFormat.Q8);
        long before = Context.AllocatedBytes;
        int tooMany = (int)(Context.Info.Limits.MaxStorageBufferRange / (ulong)(weights.Config.KvDim * 2)) + 1;
        Assert.That(() => new DecodeSession(Context, model, maxPositions: tooMany),
            Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("maxStorageBufferRange"));
        Assert.That(Context.AllocatedBytes, Is.EqualTo(before), "nothing left allocated");
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
        Assert.That(decode.End.Value - decode.Start.Value, Is.EqualTo(12 * layers), "decode: 12 dispatches a layer");

        session.Prefill(s_prompt);
        Range prefill = session.LastStep.LayerDispatches;
        // Prefill's layer adds the expert grouping (moe_group) to decode's 12: a range left from the decode step is wrong.
        Assert.That(prefill.End.Value - prefill.Start.Value, Is.EqualTo(13 * layers), "prefill: 13 dispatches a layer");
        Assert.That(prefill.End.Value, Is.LessThan(session.LastStep.Dispatches), "the head follows the layers");

        session.Step(token);
        Assert.That(session.LastStep.LayerDispatches, Is.EqualTo(decode), "decode again");
    }
}
