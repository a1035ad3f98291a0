namespace Hunyuan.Vk.Reference;

/// <summary>
/// The CPU oracle for single ops: the plainest correct loops, accumulating in double so they are at least as
/// accurate as any kernel they judge. Shapes in comments; all tensors are row-major.
/// </summary>
public static class Ops
{
    /// <summary>c = a + b. a, b, c: [n]</summary>
    public static void Add(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c)
    {
        CheckSameLength(a.Length, b.Length, c.Length);
        for (int i = 0; i < c.Length; i++)
        {
            c[i] = a[i] + b[i];
        }
    }

    /// <summary>c = a * b elementwise. a, b, c: [n]</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c)
    {
        CheckSameLength(a.Length, b.Length, c.Length);
        for (int i = 0; i < c.Length; i++)
        {
            c[i] = a[i] * b[i];
        }
    }

    /// <summary>y = x / sqrt(mean(x^2) + eps) * weight, per row. x, y: [rows, n]; weight: [n]</summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        int n = weight.Length;
        CheckSameLength(x.Length, y.Length, y.Length);
        if (n == 0 || x.Length % n != 0)
        {
            throw new ArgumentException($"x has {x.Length} values, not a whole number of rows of {n}");
        }

        for (int row = 0; row < x.Length / n; row++)
        {
            ReadOnlySpan<float> xr = x.Slice(row * n, n);
            double sumSquares = 0;
            for (int i = 0; i < n; i++)
            {
                sumSquares += (double)xr[i] * xr[i];
            }

            double scale = 1.0 / Math.Sqrt(sumSquares / n + eps);
            for (int i = 0; i < n; i++)
            {
                y[row * n + i] = (float)(xr[i] * scale * weight[i]);
            }
        }
    }

    /// <summary>y = W x. W: [rows, cols]; x: [cols]; y: [rows]</summary>
    public static void MatVec(ReadOnlySpan<float> w, ReadOnlySpan<float> x, Span<float> y)
    {
        int rows = y.Length, cols = x.Length;
        if (w.Length != rows * cols)
        {
            throw new ArgumentException($"W has {w.Length} values; [{rows}, {cols}] needs {rows * cols}");
        }

        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            ReadOnlySpan<float> wr = w.Slice(r * cols, cols);
            for (int k = 0; k < cols; k++)
            {
                sum += (double)wr[k] * x[k];
            }

            y[r] = (float)sum;
        }
    }

    private static void CheckSameLength(int a, int b, int c)
    {
        if (a != b || b != c)
        {
            throw new ArgumentException($"Lengths differ: {a}, {b}, {c}");
        }
    }
}
