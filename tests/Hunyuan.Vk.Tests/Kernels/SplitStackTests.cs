using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

/// <summary>
/// A stack of experts beyond the device's maxTexelBufferElements (A13B's F16 and F32 gate/up stacks on NVIDIA, 2^27
/// texels) is held in parts of whole matrices, and every kernel that reads a stack records one dispatch per part.
/// Tested on lavapipe with the limit lowered, so the tiny model's stacks split as A13B's would.
/// </summary>
public sealed class SplitStackTests : VulkanTest
{
    // A context whose views may hold `texels` texels, as a device with that limit would.
    private static GpuContext Limited(ulong texels) =>
        Gpu.Instance.CreateContext(Context.Info.Index, tighten: l => l with { MaxTexelBufferElements = texels });

    [TestCase(WeightFormat.F16)]
    [TestCase(WeightFormat.Q8)]
    public void A_stack_over_the_texel_limit_is_split_in_balanced_parts_and_each_matrix_reads_back(WeightFormat format)
    {
        const int Rows = 64, Cols = 256, Count = 7;
        WeightFormatSpec spec = format.Spec();
        ulong perMatrix = (ulong)spec.QuantBytes(Rows, Cols) / WeightFormatSpec.QuantTexelBytes;
        using GpuContext limited = Limited(3 * perMatrix);   // three matrices per view at most: 7 -> 3 parts
        QuantizedMatrix[] host = [.. Enumerable.Range(0, Count).Select(i => QuantizedMatrix.Random(format, Rows, Cols, new Random(40 + i)))];
        using DeviceMatrix w = DeviceMatrix.Upload(limited, "experts", host);

        DeviceMatrixPart[] parts = w.Parts.ToArray();
        Assert.That(parts.Select(p => p.Count), Is.EqualTo(new[] { 3, 3, 1 }).Or.EqualTo(new[] { 3, 2, 2 }));
        Assert.That(parts.Select(p => p.First), Is.EqualTo(new[] { 0, parts[0].Count, parts[0].Count + parts[1].Count }));
        Assert.That(parts.All(p => p.Quants.Texels <= 3 * perMatrix), "every view within the limit");
        Assert.That(w.ViewBytes, Is.EqualTo(Count * w.BytesPerMatrix));
        Assert.Throws<InvalidOperationException>(() => _ = w.Tables.Length, "a split stack is bound part by part");

        using var kernel = new MatVecKernel(limited, DeviceTuning.For(limited.Info), format, Cols);
        float[] x = TestData.Uniform(5, Cols);
        using GpuBuffer gx = limited.CreateBuffer(Cols * 4, "x");
        gx.Write<float>(x);
        using GpuBuffer gy = limited.CreateBuffer(Rows * 4, "y");
        for (int i = 0; i < Count; i++)
        {
            limited.Run(r => kernel.Record(r, w, gx.All, gy.All, index: i));
            var y = new float[Rows];
            gy.Read<float>(y);
            var expected = new float[Rows];
            ModelOps.MatVec<float>(host[i].Dequantize(), x, expected);
            AssertNmse.Close(expected, y, 1e-6, $"matrix {i} in part {w.Locate(i).Part.First}");
        }
    }

    [Test]
    public void One_matrix_over_the_texel_limit_is_refused_naming_it()
    {
        using GpuContext limited = Limited(100);
        QuantizedMatrix m = QuantizedMatrix.Random(WeightFormat.F16, 64, 256, new Random(1));
        var e = Assert.Throws<NotSupportedException>(() => DeviceMatrix.Upload(limited, "layers.0.q_proj", m));
        Assert.That(e!.Message, Does.Contain("layers.0.q_proj").And.Contain("maxTexelBufferElements").And.Contain("--weights"));
    }

    [TestCase(WeightFormat.F16)]
    [TestCase(WeightFormat.Q4)]
    public void A_model_with_split_expert_stacks_computes_what_the_whole_stacks_do(WeightFormat format)
    {
        // The tiny shape with a small vocabulary, so the embedding is no larger than two experts' gate/up matrices.
        HunyuanConfig c = TestModels.TinyConfig() with { VocabSize = 256 };
        ulong gateUpTexels = (ulong)format.Spec().QuantBytes(2 * c.ExpertIntermediate, c.HiddenSize) / WeightFormatSpec.QuantTexelBytes;
        int[] prompt = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];

        (float[] Prefill, float[] Step) Logits(GpuContext context, int expectParts)
        {
            using DeviceModel model = DeviceModel.Random(context, c, format, seed: 5);
            Assert.That(model.Layers[0].GateUp!.Parts.Length, Is.EqualTo(expectParts), "gate/up parts");
            Assert.That(model.Layers[1].Down!.Parts.Length, expectParts == 1 ? Is.EqualTo(1) : Is.GreaterThan(1), "down parts (half the size: more per part)");
            using var session = new DecodeSession(context, model, maxPositions: 32);
            session.Prefill(prompt);
            var afterPrefill = new float[c.VocabSize];
            session.Logits.Read<float>(afterPrefill);
            session.Step(13);
            var afterStep = new float[c.VocabSize];
            session.Logits.Read<float>(afterStep);
            return (afterPrefill, afterStep);
        }

        (float[] wholePrefill, float[] wholeStep) = Logits(Context, 1);
        int stacked = c.StackedExperts;
        using GpuContext limited = Limited(gateUpTexels * 2);   // two experts per part
        (float[] splitPrefill, float[] splitStep) = Logits(limited, (stacked + 1) / 2);
        Assert.That(splitPrefill, Is.EqualTo(wholePrefill), "prefill (grouped experts), bit for bit");
        Assert.That(splitStep, Is.EqualTo(wholeStep), "decode (routed slots), bit for bit");
    }
}
