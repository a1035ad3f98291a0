using System.Numerics;

namespace Hunyuan.Vk.Reference;

/// <summary>
/// The ops of the forward pass on one vector at a time, generic over T (float or double), written to be read against the spec.
/// Matrices are row-major [out, in], as in PyTorch's Linear.
/// </summary>
public static class ModelOps
{
    /// <summary>The greedy choice: the index of the largest value, the first one on a tie.</summary>
    public static int ArgMax<T>(ReadOnlySpan<T> values)
        where T : IComparable<T>
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i].CompareTo(values[best]) > 0)
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>y = W x, accumulated in double (at least as accurate as any kernel it judges). W: [rows, cols] with
    /// rows = y.Length and cols = x.Length.</summary>
    public static void MatVec<T>(ReadOnlySpan<T> w, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int rows = y.Length, cols = x.Length;
        if (w.Length != (long)rows * cols)
        {
            throw new ArgumentException($"W has {w.Length} values; [{rows}, {cols}] needs {(long)rows * cols}");
        }

        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<T> row = w.Slice(r * cols, cols);
            double sum = 0;
            for (int k = 0; k < cols; k++)
            {
                sum += double.CreateTruncating(row[k]) * double.CreateTruncating(x[k]);
            }

            y[r] = T.CreateTruncating(sum);
        }
    }

    /// <summary>y = x / sqrt(mean(x^2) + eps) * w for each row of x, in double. x, y: [rows, n]; w: [n].</summary>
    public static void RmsNorm<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, Span<T> y, T eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = w.Length;
        if (n == 0 || x.Length % n != 0 || y.Length != x.Length)
        {
            throw new ArgumentException($"x has {x.Length} values and y {y.Length}: not the same whole number of rows of {n}");
        }

        for (int row = 0; row < x.Length / n; row++)
        {
            ReadOnlySpan<T> xr = x.Slice(row * n, n);
            double sumSquares = 0;
            foreach (T v in xr)
            {
                sumSquares += double.CreateTruncating(v) * double.CreateTruncating(v);
            }

            double scale = 1.0 / Math.Sqrt(sumSquares / n + double.CreateTruncating(eps));
            for (int i = 0; i < n; i++)
            {
                y[row * n + i] = T.CreateTruncating(double.CreateTruncating(xr[i]) * scale * double.CreateTruncating(w[i]));
            }
        }
    }

    /// <summary>
    /// MoE gating (docs/model.md 2.4) from a token's router logits: softmax over all experts, the top k (ties to the lower
    /// index), renormalised to sum to 1 when <paramref name="normTopK"/>, times <paramref name="scaling"/>.
    /// </summary>
    public static (int[] Experts, T[] Weights) Route<T>(ReadOnlySpan<T> logits, int k, bool normTopK, T scaling)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T[] probs = logits.ToArray();
        Softmax<T>(probs);
        int[] chosen = TopK<T>(probs, k);
        T[] weights = [.. chosen.Select(e => probs[e])];
        T sum = weights.Aggregate(T.Zero, (a, b) => a + b);
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (normTopK ? weights[i] / sum : weights[i]) * scaling;
        }

        return (chosen, weights);
    }

    /// <summary>
    /// NeoX rotary embedding of one head vector in place: dimension i pairs with i + d/2 (rotate_half), angle
    /// position * base^(-2i/d). As in the official code, the inverse frequency and the angle are fp32 values (the
    /// product rounded to fp32); cos and sin of that angle are then taken exactly (in double).
    /// </summary>
    public static void Rope<T>(Span<T> head, int position, double ropeBase)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int half = head.Length / 2;
        for (int i = 0; i < half; i++)
        {
            float invFreq = (float)Math.Pow(ropeBase, -2.0 * i / head.Length);
            float angle = position * invFreq;
            T cos = T.CreateChecked(Math.Cos(angle)), sin = T.CreateChecked(Math.Sin(angle));
            T a = head[i], b = head[i + half];
            head[i] = a * cos - b * sin;          // v * cos + rotate_half(v) * sin, first half:  rotate_half = -v[half:]
            head[i + half] = b * cos + a * sin;   // second half: rotate_half = v[:half]
        }
    }

    /// <summary>
    /// One query's attention over <paramref name="positions"/> cached positions, GQA (query head h reads kv head
    /// h / (heads / kvHeads)), scores scaled by 1/sqrt(d), softmax and the weighted sum in double.
    /// q: [heads * d]; k, v: [positions][kvHeads * d]; output: [heads * d].
    /// </summary>
    public static void DecodeAttention(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, int heads, int kvHeads, int headDim, int positions, Span<float> output)
    {
        int d = headDim, kvDim = kvHeads * d, group = heads / kvHeads;
        var scores = new double[positions];
        for (int h = 0; h < heads; h++)
        {
            int kvh = h / group;
            for (int t = 0; t < positions; t++)
            {
                double dot = 0;
                for (int i = 0; i < d; i++)
                {
                    dot += q[h * d + i] * (double)k[t * kvDim + kvh * d + i];
                }

                scores[t] = dot / Math.Sqrt(d);
            }

            Softmax<double>(scores);
            for (int i = 0; i < d; i++)
            {
                double sum = 0;
                for (int t = 0; t < positions; t++)
                {
                    sum += scores[t] * v[t * kvDim + kvh * d + i];
                }

                output[h * d + i] = (float)sum;
            }
        }
    }

    /// <summary>Softmax in place, max-subtracted.</summary>
    public static void Softmax<T>(Span<T> x)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = T.NegativeInfinity;
        foreach (T v in x)
        {
            max = T.Max(max, v);
        }

        T sum = T.Zero;
        for (int i = 0; i < x.Length; i++)
        {
            x[i] = T.Exp(x[i] - max);
            sum += x[i];
        }

        for (int i = 0; i < x.Length; i++)
        {
            x[i] /= sum;
        }
    }

    public static T Silu<T>(T x)
        where T : unmanaged, IFloatingPointIeee754<T> => x / (T.One + T.Exp(-x));

    /// <summary>SwiGLU expert: down(silu(gate x) * (up x)). gate, up: [inter, hidden]; down: [hidden, inter].</summary>
    public static void SwiGlu<T>(ReadOnlySpan<T> gate, ReadOnlySpan<T> up, ReadOnlySpan<T> down, ReadOnlySpan<T> x, Span<T> y, int intermediate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var g = new T[intermediate];
        var u = new T[intermediate];
        MatVec<T>(gate, x, g);
        MatVec<T>(up, x, u);
        for (int i = 0; i < intermediate; i++)
        {
            g[i] = Silu(g[i]) * u[i];
        }

        MatVec<T>(down, g, y);
    }

    /// <summary>
    /// The indices of the <paramref name="k"/> largest values, largest first; equal values go to the lower index.
    /// </summary>
    public static int[] TopK<T>(ReadOnlySpan<T> values, int k)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var order = new int[values.Length];
        for (int i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        T[] copy = values.ToArray();
        Array.Sort(order, (a, b) => copy[a] != copy[b] ? copy[b].CompareTo(copy[a]) : a.CompareTo(b));
        return order[..k];
    }
}
