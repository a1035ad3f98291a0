namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// An activation vector quantized once per token to signed 8-bit blocks of 32 values with an f32 scale each
/// (x ~ q * scale, |q| &lt;= 127), so the host kernels' inner loops are integer dot products (<see cref="HostTiles"/>),
/// with each block's sum of q (what a weight's zero point multiplies). Sized once; quantizing allocates nothing.
/// </summary>
public sealed class Int8Activation
{
    public const int Block = 32;

    public Int8Activation(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacity);
        if (capacity % Block != 0)
        {
            throw new ArgumentException($"capacity {capacity} is not a multiple of {Block}", nameof(capacity));
        }

        Q = new sbyte[capacity];
        Scales = new float[capacity / Block];
        Sums = new int[capacity / Block];
        ZeroSums = new float[capacity / Block];
    }

    /// <summary>Values held now (a multiple of 32).</summary>
    public int Length { get; private set; }

    public sbyte[] Q { get; }

    /// <summary>The scale of each block.</summary>
    public float[] Scales { get; }

    /// <summary>The sum of each block's q: what a weight's zero point multiplies.</summary>
    public int[] Sums { get; }

    /// <summary><see cref="Sums"/> as f32 (the products' zero-point term takes them so, without a conversion per row group).</summary>
    public float[] ZeroSums { get; }

    /// <summary>Quantizes <paramref name="x"/> (length a multiple of 32, at most the capacity): per block, scale =
    /// max |x| / 127 and q = round(x / scale).</summary>
    public void Quantize(ReadOnlySpan<float> x)
    {
        if (x.Length % Block != 0 || x.Length > Q.Length)
        {
            throw new ArgumentException($"{x.Length} values: need a multiple of {Block} up to {Q.Length}", nameof(x));
        }

        Length = x.Length;
        for (int b = 0; b < x.Length / Block; b++)
        {
            ReadOnlySpan<float> v = x.Slice(b * Block, Block);
            float max = 0;
            foreach (float f in v)
            {
                max = Math.Max(max, Math.Abs(f));
            }

            float scale = max / 127f, inverse = max > 0 ? 127f / max : 0f;
            Span<sbyte> q = Q.AsSpan(b * Block, Block);
            int sum = 0;
            for (int k = 0; k < Block; k++)
            {
                sbyte s = (sbyte)Math.Clamp((int)MathF.Round(v[k] * inverse), -127, 127);
                q[k] = s;
                sum += s;
            }

            Scales[b] = scale;
            Sums[b] = sum;
            ZeroSums[b] = sum;
        }
    }

    /// <summary>The values the quantized blocks stand for (what the kernels' integer products equal).</summary>
    public float[] Dequantize()
    {
        var x = new float[Length];
        for (int i = 0; i < Length; i++)
        {
            x[i] = Q[i] * Scales[i / Block];
        }

        return x;
    }
}
