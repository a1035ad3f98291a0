using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Parity;

/// <summary>One executor's session against a golden, the same way for the device and the host: per prompt the hidden
/// state entering layer 0 and leaving each layer after a prefill (multi-token products), the greedy continuation from
/// it, then the logits of every position decoded one token at a time (single-token products), by NMSE under
/// <c>limit</c>, the greedy tokens exactly where <c>exactGreedy</c>.</summary>
internal static class GoldenCheck
{
    /// <param name="session">The executor's session.</param>
    /// <param name="golden">The goldens of one checkpoint.</param>
    /// <param name="c">Its config.</param>
    /// <param name="limit">The NMSE limit of states and logits.</param>
    /// <param name="exactGreedy">Whether the greedy tokens must be the goldens' own.</param>
    /// <param name="what">Names the run in messages.</param>
    /// <param name="prefill">Empties the cache, runs the prompt in one prefill and returns its next token and the hidden
    /// states [layers + 1][tokens][hidden] it captured.</param>
    public static void Run(IModelSession session, Golden golden, HunyuanConfig c, double limit, bool exactGreedy, string what,
        Func<int[], (int Next, float[] States)> prefill)
    {
        foreach (Golden.Prompt p in golden.Prompts)
        {
            int n = p.Ids.Length;
            (int next, float[] states) = prefill(p.Ids);
            for (int l = 0; l <= c.Layers; l++)
            {
                string state = l == 0 ? "embedding" : $"hidden state after layer {l - 1}";
                Check(Flatten(p.Hidden[l]), states.AsSpan(l * n * c.HiddenSize, n * c.HiddenSize), limit, $"{what}: {state}");
            }

            var greedy = new List<int> { next };
            while (greedy.Count < p.Greedy.Length)
            {
                greedy.Add(session.Step(greedy[^1]));
            }

            if (exactGreedy)
            {
                Assert.That(greedy, Is.EqualTo(p.Greedy), $"{what}: greedy continuation of [{string.Join(',', p.Ids)}]");
            }

            session.Reset();
            var logits = new float[n][];
            for (int t = 0; t < n; t++)
            {
                session.Step(p.Ids[t]);
                logits[t] = new float[c.VocabSize];
                session.ReadLogits(logits[t]);
            }

            Check(Flatten(p.Logits), Flatten(logits), limit, $"{what}: logits of every position");
        }
    }

    private static void Check(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double limit, string what)
    {
        TestContext.Out.WriteLine($"{what}: NMSE {Nmse.Compute(expected, actual).Value:E2}");
        AssertNmse.Close(expected, actual, limit, what);
    }

    private static float[] Flatten(float[][] rows) => [.. rows.SelectMany(r => r)];
}
