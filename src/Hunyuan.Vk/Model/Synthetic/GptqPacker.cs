namespace Hunyuan.Vk.Model.Synthetic;

/// <summary>
/// Symmetric int4 quantization into the AutoGPTQ v1 layout, as AutoGPTQ writes it: per (group, output) a scale of
/// 2 max|w| / 15 and zero point 8, q = clamp(round(w / scale) + 8, 0, 15); the zero is stored as 7 (zero - 1).
/// Used by the generator; <see cref="GptqTensor"/> reads the result back.
/// </summary>
public static class GptqPacker
{
    public sealed record Packed(int[] QWeight, int[] QZeros, float[] Scales, int[] GIdx);

    /// <param name="w">[outDim, inDim] row-major.</param>
    /// <param name="outDim">Output features.</param>
    /// <param name="inDim">Input features; a multiple of <paramref name="group"/> and 8.</param>
    /// <param name="group">Inputs per group.</param>
    /// <param name="roundScale">Rounds a scale to the dtype it is stored in (so the packed result dequantizes exactly).</param>
    public static Packed Quantize(ReadOnlySpan<float> w, int outDim, int inDim, int group, Func<float, float> roundScale)
    {
        ArgumentNullException.ThrowIfNull(roundScale);
        int groups = inDim / group;
        var scales = new float[groups * outDim];
        for (int g = 0; g < groups; g++)
        {
            for (int o = 0; o < outDim; o++)
            {
                float max = 0;
                for (int k = g * group; k < (g + 1) * group; k++)
                {
                    max = Math.Max(max, Math.Abs(w[o * inDim + k]));
                }

                float s = roundScale(max > 0 ? 2 * max / 15 : 1f);
                scales[g * outDim + o] = s > 0 ? s : 1f;
            }
        }

        var qweight = new int[inDim / 8 * outDim];
        for (int k = 0; k < inDim; k++)
        {
            int g = k / group;
            for (int o = 0; o < outDim; o++)
            {
                int q = Math.Clamp((int)MathF.Round(w[o * inDim + k] / scales[g * outDim + o], MidpointRounding.ToEven) + 8, 0, 15);
                qweight[k / 8 * outDim + o] |= q << (4 * (k % 8));
            }
        }

        var qzeros = new int[groups * (outDim / 8)];
        Array.Fill(qzeros, 0x77777777);
        int[] gIdx = Enumerable.Range(0, inDim).Select(k => k / group).ToArray();
        return new Packed(qweight, qzeros, scales, gIdx);
    }

    /// <summary>The values the packed form stands for: (q - 8) * scale.</summary>
    public static float[] Dequantize(Packed p, int outDim, int inDim)
    {
        ArgumentNullException.ThrowIfNull(p);
        var w = new float[outDim * inDim];
        for (int k = 0; k < inDim; k++)
        {
            int g = p.GIdx[k];
            for (int o = 0; o < outDim; o++)
            {
                int q = (p.QWeight[k / 8 * outDim + o] >> (4 * (k % 8))) & 0xF;
                int zero = ((p.QZeros[g * (outDim / 8) + o / 8] >> (4 * (o % 8))) & 0xF) + 1;
                w[o * inDim + k] = (q - zero) * p.Scales[g * outDim + o];
            }
        }

        return w;
    }
}
