namespace Hunyuan.Vk.Reference;

/// <summary>
/// The CPU oracle for the elementwise ops that are not part of the model's forward pass (<see cref="ModelOps"/> has
/// those). Shapes in comments.
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

    private static void CheckSameLength(int a, int b, int c)
    {
        if (a != b || b != c)
        {
            throw new ArgumentException($"Lengths differ: {a}, {b}, {c}");
        }
    }
}
