using Hunyuan.Vk.Model;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Reference;

public sealed class ReferenceModelTests
{
    private static readonly int[] s_prompt = [127958, 9906, 1917, 220, 16, 17, 127962, 14023];

    [Test]
    public void Kv_cache_decode_equals_full_recompute()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        ReferenceModel<double> model = TestModels.Reference<double>(weights);
        double[][] full = model.ForwardFull(s_prompt);
        double[][] cached = model.Prefill(s_prompt);
        Assert.That(model.CachedTokens, Is.EqualTo(s_prompt.Length));
        for (int p = 0; p < s_prompt.Length; p++)
        {
            double maxDiff = full[p].Zip(cached[p], (a, b) => Math.Abs(a - b)).Max();
            double scale = full[p].Max(Math.Abs);
            Assert.That(maxDiff, Is.LessThanOrEqualTo(1e-12 * scale), $"position {p}");
        }

        // Greedy continuation from the cache equals the argmax of a full recompute of the longer sequence.
        int next = ModelOps.ArgMax(cached[^1]);
        double[] step = model.Decode(next);
        double[][] longer = model.ForwardFull([.. s_prompt, next]);
        Assert.That(ModelOps.ArgMax(step), Is.EqualTo(ModelOps.ArgMax(longer[^1])));
    }

    [Test]
    public void Float32_tracks_float64()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        float[][] f32 = TestModels.Reference<float>(weights).Prefill(s_prompt);
        double[][] f64 = TestModels.Reference<double>(weights).Prefill(s_prompt);
        for (int p = 0; p < s_prompt.Length; p++)
        {
            AssertNmse.Close(f64[p].Select(v => (float)v).ToArray(), f32[p], 1e-9, $"position {p}");
            Assert.That(ModelOps.ArgMax(f32[p]), Is.EqualTo(ModelOps.ArgMax(f64[p])), $"greedy token at position {p}");
        }
    }

    [Test]
    public void Logits_depend_on_the_context()
    {
        // A broken attention (e.g. one that only sees the current token) would give equal logits here.
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        ReferenceModel<double> model = TestModels.Reference<double>(weights);
        double[] a = model.ForwardFull([100, 200, 300])[^1];
        double[] b = model.ForwardFull([101, 200, 300])[^1];
        Assert.That(a.Zip(b, (x, y) => Math.Abs(x - y)).Max(), Is.GreaterThan(1e-3));
    }

    [Test]
    public void Routing_picks_top_k_and_renormalises()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        ReferenceModel<double> model = TestModels.Reference<double>(weights);
        double[] x = TestData.Uniform(3, weights.Config.HiddenSize).Select(v => (double)v).ToArray();
        (int[] experts, double[] w) = model.Route(0, x);
        Assert.That(experts, Has.Length.EqualTo(weights.Config.TopK).And.Unique);
        Assert.That(w.Sum(), Is.EqualTo(1.0).Within(1e-12));
        Assert.That(w, Is.Ordered.Descending);
    }

    [Test]
    public void Top_k_breaks_ties_by_lower_index()
    {
        Assert.That(ModelOps.TopK<double>([1.0, 3.0, 2.0, 3.0, 0.5], 3), Is.EqualTo(new[] { 1, 3, 2 }));
    }

    [Test]
    public void Rope_pairs_each_dimension_with_the_one_half_a_head_away()
    {
        const int D = 128;
        double ropeBase = 10000 * Math.Pow(1000, 128.0 / 126);
        // Spec 2.2: inv_freq[1] = base^(-2/128) ~ 0.776034.
        Assert.That(Math.Pow(ropeBase, -2.0 / D), Is.EqualTo(0.776034).Within(1e-6));
        var head = new double[D];
        head[1] = 1;
        ModelOps.Rope<double>(head, 5, ropeBase);
        float angle = 5 * (float)Math.Pow(ropeBase, -2.0 / D);   // fp32 inverse frequency and angle, as the official code
        Assert.That(head[1], Is.EqualTo(Math.Cos(angle)).Within(1e-15));
        Assert.That(head[1 + D / 2], Is.EqualTo(Math.Sin(angle)).Within(1e-15), "NeoX: dimension 1 rotates into 65");
        Assert.That(head.Where((_, i) => i != 1 && i != 1 + D / 2), Is.All.EqualTo(0.0));

        var same = TestData.Uniform(1, D).Select(v => (double)v).ToArray();
        var rotated = (double[])same.Clone();
        ModelOps.Rope<double>(rotated, 0, ropeBase);
        Assert.That(rotated, Is.EqualTo(same).Within(1e-15), "position 0 is the identity");
        ModelOps.Rope<double>(rotated, 262_143, ropeBase);
        Assert.That(Math.Sqrt(rotated.Sum(v => v * v)), Is.EqualTo(Math.Sqrt(same.Sum(v => v * v))).Within(1e-12), "a rotation keeps the norm");
    }
}
