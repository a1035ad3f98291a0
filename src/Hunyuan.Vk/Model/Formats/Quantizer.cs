using System.Buffers.Binary;

namespace Hunyuan.Vk.Model.Formats;

/// <summary>
/// The values of each device format (<see cref="WeightFormatSpec"/> describes their layout): made from floats, from
/// GPTQ, or at random, and read back. Symmetric per-group quantization: Q8 d = max|w| / 127, q = round(w / d); Q4
/// d = max|w| / 7, q = clamp(round(w / d), -8, 7) + 8. Scales are rounded to f16 first and the rounded scale is used
/// to quantize, so the error bound (half a step) holds for what is stored.
/// </summary>
public static class Quantizer
{
    public static QuantizedMatrix Quantize(ReadOnlySpan<float> w, int rows, int cols, WeightFormat format)
    {
        if (w.Length != (long)rows * cols)
        {
            throw new ArgumentException($"{w.Length} values do not make [{rows}, {cols}]");
        }

        return format switch
        {
            WeightFormat.F32 => F32(w, rows, cols),
            WeightFormat.F16 => F16(w, rows, cols),
            WeightFormat.Q8 => Grouped(w, rows, cols, WeightFormat.Q8, 127),
            WeightFormat.Q4 => Grouped(w, rows, cols, WeightFormat.Q4, 7),
            WeightFormat.Q4Z => throw new ArgumentException($"{format} is made from GPTQ checkpoints (Quantizer.FromGptq), not from floats"),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Not a weight format this engine knows"),
        };
    }

    /// <summary>The values <paramref name="m"/> stands for, row-major.</summary>
    public static float[] Dequantize(QuantizedMatrix m)
    {
        ArgumentNullException.ThrowIfNull(m);
        var w = new float[(long)m.Rows * m.Cols];
        int group = m.Format.GroupSize(), groupsPerRow = m.GroupsPerRow;
        ReadOnlySpan<byte> q = m.Quants;
        static int Nibble(ReadOnlySpan<byte> q, long i) => (int)((BinaryPrimitives.ReadUInt32LittleEndian(q[(int)(i / 8 * 4)..]) >> (int)(4 * (i % 8))) & 0xF);
        for (int r = 0; r < m.Rows; r++)
        {
            for (int k = 0; k < m.Cols; k++)
            {
                long i = (long)r * m.Cols + k;
                int g = r * groupsPerRow + k / group;
                w[i] = m.Format switch
                {
                    WeightFormat.F32 => BinaryPrimitives.ReadSingleLittleEndian(q[(int)(i * 4)..]),
                    WeightFormat.F16 => (float)BinaryPrimitives.ReadHalfLittleEndian(q[(int)(i * 2)..]),
                    WeightFormat.Q8 => (sbyte)q[(int)i] * (float)m.Scales[g],
                    WeightFormat.Q4 => (Nibble(q, i) - 8) * (float)m.Scales[g],
                    WeightFormat.Q4Z => (Nibble(q, i) - m.Zeros[g]) * (float)m.Scales[g],
                    _ => throw new ArgumentOutOfRangeException(nameof(m), m.Format, "Not a weight format this engine knows"),
                };
            }
        }

        return w;
    }

    /// <summary>
    /// Random weights in <paramref name="format"/> whose products keep O(1) activations (values of std about
    /// 1/sqrt(cols)): for timing runs, where values do not matter but NaNs and overflow would.
    /// </summary>
    public static QuantizedMatrix Random(WeightFormat format, int rows, int cols, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        WeightFormatSpec spec = format.Spec();
        long n = (long)rows * cols;
        float std = 1f / MathF.Sqrt(cols);
        if (!spec.HasScales)
        {
            var values = new byte[n * spec.BlockBytes / WeightFormatSpec.BlockValues];
            for (long i = 0; i < n; i++)
            {
                float v = (random.NextSingle() * 2 - 1) * 1.7f * std;   // uniform with that std
                if (format == WeightFormat.F32)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(values.AsSpan((int)(i * 4)), v);
                }
                else
                {
                    BinaryPrimitives.WriteHalfLittleEndian(values.AsSpan((int)(i * 2)), (Half)v);
                }
            }

            return new QuantizedMatrix(format, rows, cols, values);
        }

        var quants = new byte[spec.QuantBytes(rows, cols)];
        random.NextBytes(quants);
        // Uniform quants have std ~74 (int8) or ~4.6 (int4 around its zero of 8).
        var scales = new Half[spec.Groups(rows, cols)];
        Array.Fill(scales, (Half)(std / (format == WeightFormat.Q8 ? 74f : 4.6f)));
        byte[]? zeros = spec.HasZeros ? new byte[scales.Length] : null;
        if (zeros is not null)
        {
            Array.Fill(zeros, (byte)8);
        }

        return new QuantizedMatrix(format, rows, cols, quants, scales, zeros);
    }

    private static QuantizedMatrix F32(ReadOnlySpan<float> w, int rows, int cols)
    {
        var bytes = new byte[w.Length * 4];
        for (int i = 0; i < w.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), w[i]);
        }

        return new QuantizedMatrix(WeightFormat.F32, rows, cols, bytes);
    }

    private static QuantizedMatrix F16(ReadOnlySpan<float> w, int rows, int cols)
    {
        var bytes = new byte[w.Length * 2];
        for (int i = 0; i < w.Length; i++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)w[i]);
        }

        return new QuantizedMatrix(WeightFormat.F16, rows, cols, bytes);
    }

    private static QuantizedMatrix Grouped(ReadOnlySpan<float> w, int rows, int cols, WeightFormat format, int levels)
    {
        const int Group = 32;
        if (cols % Group != 0)
        {
            throw new ArgumentException($"{format} needs cols ({cols}) to be a multiple of {Group}");
        }

        int groups = cols / Group;
        var scales = new Half[rows * groups];
        var quants = new byte[format == WeightFormat.Q8 ? (long)rows * cols : (long)rows * cols / 2];
        for (int r = 0; r < rows; r++)
        {
            for (int g = 0; g < groups; g++)
            {
                ReadOnlySpan<float> block = w.Slice(r * cols + g * Group, Group);
                float max = 0;
                foreach (float v in block)
                {
                    max = Math.Max(max, Math.Abs(v));
                }

                Half d = (Half)(max / levels);
                scales[r * groups + g] = d;
                float inv = (float)d == 0 ? 0 : 1f / (float)d;
                for (int j = 0; j < Group; j++)
                {
                    long k = (long)r * cols + g * Group + j;
                    int q = (int)MathF.Round(block[j] * inv, MidpointRounding.ToEven);
                    if (format == WeightFormat.Q8)
                    {
                        quants[k] = (byte)(sbyte)Math.Clamp(q, -127, 127);
                    }
                    else
                    {
                        quants[k / 2] |= (byte)((Math.Clamp(q, -8, 7) + 8) << (int)(4 * (k % 2)));
                    }
                }
            }
        }

        return new QuantizedMatrix(format, rows, cols, quants, scales);
    }

    /// <summary>
    /// GPTQ-Int4 as it is, transposed to rows = outputs: qweight [in/8, out] becomes words [out, in/8] (the nibble order
    /// along the input is the same), scales and zeros [in/g, out] become [out, in/g]. Needs the trivial g_idx (k / group)
    /// that static-group checkpoints have; returns null otherwise (convert through floats then).
    /// </summary>
    public static QuantizedMatrix? FromGptq(GptqTensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        int outDim = t.Out, inDim = t.In, group = t.GroupSize, groups = inDim / group;
        if (group != WeightFormat.Q4Z.GroupSize() || !t.Groups().Select((g, k) => g == k / group).All(x => x))
        {
            return null;
        }

        int[] q = StoredTensor.ReadInt32(t.QWeight);
        int[] z = StoredTensor.ReadInt32(t.QZeros);
        var s = new float[t.Scales.Elements];
        StoredTensor.ReadFloats(t.Scales, s);
        var quants = new byte[(long)outDim * inDim / 2];
        var scales = new Half[outDim * groups];
        var zeros = new byte[outDim * groups];
        for (int o = 0; o < outDim; o++)
        {
            for (int w = 0; w < inDim / 8; w++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(quants.AsSpan((o * (inDim / 8) + w) * 4), q[w * outDim + o]);
            }

            for (int g = 0; g < groups; g++)
            {
                scales[o * groups + g] = (Half)s[g * outDim + o];
                zeros[o * groups + g] = (byte)(((z[g * (outDim / 8) + o / 8] >> (4 * (o % 8))) & 0xF) + 1);
            }
        }

        return new QuantizedMatrix(WeightFormat.Q4Z, outDim, inDim, quants, scales, zeros);
    }

    /// <summary>A checkpoint tensor [rows, cols] in a device format: GPTQ tensors go to Q4Z as they are; everything else
    /// through its float values.</summary>
    public static QuantizedMatrix Convert(StoredTensor tensor, WeightFormat format)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        long[] shape = tensor.Spec.Shape;
        (int rows, int cols) = shape.Length == 2 ? ((int)shape[0], (int)shape[1]) : (1, (int)shape[0]);
        if (format == WeightFormat.Q4Z)
        {
            return tensor is GptqTensor g
                ? FromGptq(g) ?? throw new ModelFormatException($"'{tensor.Name}': GPTQ with act-order groups (non-trivial g_idx) or a group other than 128 cannot stay int4 as it is; choose q4 or q8")
                : throw new ModelFormatException($"'{tensor.Name}' is not GPTQ-Int4 ({tensor.Source}); Q4Z is only for GPTQ checkpoints");
        }

        return Quantize(tensor.ReadF32(), rows, cols, format);
    }
}

