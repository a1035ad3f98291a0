using System.Numerics.Tensors;

namespace Hunyuan.Vk.HostCompute;

/// <summary>The host executor's small ops on one token's vectors, in f32 as the device computes them: RMSNorm, NeoX
/// RoPE then the per-head RMSNorm of q and k, and the MoE gating (shaders/include/routing.glsl's twin).</summary>
internal static class HostOps
{
    /// <summary>y = x / sqrt(mean(x^2) + eps) * w.</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> w, Span<float> y, float eps)
    {
        float scale = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares(x) / x.Length + eps);
        TensorPrimitives.Multiply(x, scale, y);
        TensorPrimitives.Multiply(y, w, y);
    }

    /// <summary>
    /// NeoX rotary embedding of each of <paramref name="heads"/> head vectors at <paramref name="position"/> (dimension
    /// i pairs with i + d/2; angle position x inverse frequency, rounded to f32, as the official code), then each
    /// head's RMSNorm with <paramref name="norm"/> when given (QK-norm comes after RoPE in this model).
    /// <paramref name="cos"/> and <paramref name="sin"/> are scratch of d/2.
    /// </summary>
    public static void RopeThenNorm(Span<float> heads, int count, int position, ReadOnlySpan<float> inverseFrequencies, ReadOnlySpan<float> norm, float eps,
        Span<float> cos, Span<float> sin)
    {
        int half = inverseFrequencies.Length, d = 2 * half;
        for (int i = 0; i < half; i++)
        {
            float angle = position * inverseFrequencies[i];
            cos[i] = MathF.Cos(angle);
            sin[i] = MathF.Sin(angle);
        }

        for (int h = 0; h < count; h++)
        {
            Span<float> head = heads.Slice(h * d, d);
            for (int i = 0; i < half; i++)
            {
                float a = head[i], b = head[i + half];
                head[i] = a * cos[i] - b * sin[i];
                head[i + half] = b * cos[i] + a * sin[i];
            }

            if (!norm.IsEmpty)
            {
                RmsNorm(head, norm, head, eps);
            }
        }
    }

    /// <summary>
    /// MoE gating of one token from its router logits (docs/model.md 2.4): softmax, the top k (ties to the lower
    /// index), renormalised when <paramref name="normTopK"/>, times <paramref name="scaling"/>; the shared expert (when
    /// <paramref name="shared"/>) in slot k with id experts and weight 1. Logits that are not finite route to experts
    /// 0 .. k-1 weighted NaN, so ids stay in range and the NaN reaches the logits (the device's rule).
    /// <paramref name="probabilities"/> is scratch of experts.
    /// </summary>
    public static void Route(ReadOnlySpan<float> logits, int topK, bool normTopK, float scaling, bool shared, Span<int> ids, Span<float> weights,
        Span<float> probabilities)
    {
        int experts = logits.Length;
        if (shared)
        {
            ids[topK] = experts;
            weights[topK] = 1f;
        }

        foreach (float v in logits)
        {
            if (!float.IsFinite(v))
            {
                for (int k = 0; k < topK; k++)
                {
                    ids[k] = k;
                    weights[k] = float.NaN;
                }

                return;
            }
        }

        TensorPrimitives.SoftMax(logits, probabilities);
        float picked = 0;
        for (int k = 0; k < topK; k++)
        {
            int best = -1;
            for (int e = 0; e < experts; e++)
            {
                if ((best < 0 || logits[e] > logits[best]) && !Taken(ids[..k], e))
                {
                    best = e;
                }
            }

            ids[k] = best;
            weights[k] = probabilities[best];
            picked += probabilities[best];
        }

        for (int k = 0; k < topK; k++)
        {
            weights[k] = (normTopK ? weights[k] / picked : weights[k]) * scaling;
        }
    }

    private static bool Taken(ReadOnlySpan<int> ids, int e) => ids.Contains(e);
}
