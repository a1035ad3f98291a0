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

    /// <summary>y = W x. W: [y.Length, x.Length].</summary>
    public static void MatVec<T>(ReadOnlySpan<T> w, ReadOnlySpan<T> x, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int cols = x.Length;
        for (int r = 0; r < y.Length; r++)
        {
            ReadOnlySpan<T> row = w.Slice(r * cols, cols);
            T sum = T.Zero;
            for (int k = 0; k < cols; k++)
            {
                sum += row[k] * x[k];
            }

            y[r] = sum;
        }
    }

    /// <summary>y = x / sqrt(mean(x^2) + eps) * w.</summary>
    public static void RmsNorm<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> w, Span<T> y, T eps)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T sumSquares = T.Zero;
        foreach (T v in x)
        {
            sumSquares += v * v;
        }

        T scale = T.One / T.Sqrt(sumSquares / T.CreateChecked(x.Length) + eps);
        for (int i = 0; i < x.Length; i++)
        {
            y[i] = x[i] * scale * w[i];
        }
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
