using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Model;

public sealed class QuantizerTests
{
    [TestCase(WeightFormat.Q8, 127)]
    [TestCase(WeightFormat.Q4, 7)]
    public void Every_value_is_within_half_a_step_of_its_group(WeightFormat format, int levels)
    {
        const int Rows = 13, Cols = 96;
        float[] w = TestData.Uniform(11, Rows * Cols, scale: 2f);
        w[5] = 0;                                   // an exact zero
        Array.Clear(w, Cols, 32);                   // a group of zeros: scale 0 must not divide by zero
        QuantizedMatrix q = Quantizer.Quantize(w, Rows, Cols, format);
        float[] back = q.Dequantize();
        Assert.That(q.Scales, Has.Length.EqualTo(Rows * Cols / 32));
        for (int i = 0; i < w.Length; i++)
        {
            int group = i / 32;
            float max = w.Skip(group * 32).Take(32).Max(Math.Abs);
            // Half a quantization step, plus the f16 rounding of the scale (2^-11 relative) at the largest value.
            float bound = max / levels * (0.5f + levels / 2048f) + 1e-7f;
            Assert.That(Math.Abs(back[i] - w[i]), Is.LessThanOrEqualTo(bound), $"[{i}] {w[i]} -> {back[i]}");
        }

        Assert.That(back.Skip(Cols).Take(32), Is.All.EqualTo(0f));
        Assert.That(back[5], Is.EqualTo(0f));
    }

    [Test]
    public void F16_and_f32_keep_representable_values_exactly()
    {
        float[] w = TestData.UniformHalf(3, 64).Widened;
        Assert.That(Quantizer.Quantize(w, 2, 32, WeightFormat.F16).Dequantize(), Is.EqualTo(w));
        Assert.That(Quantizer.Quantize(w, 2, 32, WeightFormat.F32).Dequantize(), Is.EqualTo(w));
    }

    [Test]
    public void Q4_packs_eight_values_per_word_lowest_first()
    {
        // One group: value 0 is 7 (the max, so d = 1 and q = 7 + 8 = 15), value 9 is -3 (q = 5), the rest 0 (q = 8).
        float[] w = new float[32];
        w[0] = 7f;
        w[9] = -3f;
        QuantizedMatrix q = Quantizer.Quantize(w, 1, 32, WeightFormat.Q4);
        Assert.That((float)q.Scales[0], Is.EqualTo(1f));
        Assert.That(q.Words[0], Is.EqualTo(0x8888888Fu), "values 0-7 in word 0, value 0 in the lowest nibble");
        Assert.That(q.Words[1], Is.EqualTo(0x88888858u), "value 9 is the second nibble of word 1");
    }

    [TestCase(DType16.Bf16)]
    [TestCase(DType16.F16)]
    public void Gptq_stays_int4_as_it_is_and_dequantizes_exactly(DType16 scaleType)
    {
        var options = TestModels.Tiny(CheckpointFormat.GptqInt4, scaleType == DType16.Bf16 ? Vk.Model.Safetensors.DType.BF16 : Vk.Model.Safetensors.DType.F16);
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(options));
        foreach (string name in new[] { "model.layers.0.self_attn.k_proj", "model.layers.1.mlp.experts.7.down_proj", "model.layers.0.mlp.shared_mlp.up_proj" })
        {
            StoredTensor t = weights[name];
            QuantizedMatrix q = Quantizer.Convert(t, WeightFormat.Q4Z);
            Assert.That(q.Format, Is.EqualTo(WeightFormat.Q4Z));
            Assert.That(q.Dequantize(), Is.EqualTo(t.ReadF32()), name);
            Assert.That(q.Zeros, Is.All.EqualTo((byte)8), "symmetric GPTQ: zero 8 (stored as 7)");
        }
    }

    [Test]
    public void Q4z_is_refused_for_dense_tensors()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        Assert.That(() => Quantizer.Convert(weights["model.layers.0.self_attn.q_proj"], WeightFormat.Q4Z),
            Throws.TypeOf<ModelFormatException>().With.Message.Contains("only for GPTQ"));
    }

    public enum DType16
    {
        Bf16,
        F16,
    }
}
