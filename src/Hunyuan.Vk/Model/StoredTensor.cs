using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Hunyuan.Vk.Model.Safetensors;

namespace Hunyuan.Vk.Model;

/// <summary>
/// A tensor of the model as the checkpoint stores it (dense, GPTQ-Int4 or FP8), able to produce its exact float values.
/// Shapes follow PyTorch: linears are [out, in], row-major.
/// </summary>
public abstract class StoredTensor(TensorSpec spec)
{
    public TensorSpec Spec { get; } = spec;
    public string Name => Spec.Name;
    public long Elements => Spec.Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>Where it lives, for messages: file and stored tensor name(s).</summary>
    public abstract string Source { get; }

    /// <summary>Bytes the checkpoint spends on it.</summary>
    public abstract long StoredBytes { get; }

    /// <summary>The dequantized values, row-major, into <paramref name="destination"/> of <see cref="Elements"/> floats.</summary>
    public abstract void ReadF32(Span<float> destination);

    public float[] ReadF32()
    {
        var values = new float[Elements];
        ReadF32(values);
        return values;
    }

    protected void CheckDestination(Span<float> destination)
    {
        if (destination.Length != Elements)
        {
            throw new ArgumentException($"'{Name}' has {Elements} values; the destination holds {destination.Length}");
        }
    }

    /// <summary>Reads a BF16/F16/F32 tensor's values (all of them) into floats.</summary>
    internal static void ReadFloats(TensorInfo t, Span<float> destination)
    {
        const int Chunk = 1 << 20;
        int size = t.Type.Size();
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Chunk * size);
        try
        {
            for (long start = 0; start < t.Elements; start += Chunk)
            {
                int n = (int)Math.Min(Chunk, t.Elements - start);
                Span<byte> bytes = buffer.AsSpan(0, n * size);
                t.ReadBytes(bytes, start * size);
                Span<float> dst = destination.Slice((int)start, n);
                switch (t.Type)
                {
                    case DType.F32:
                        MemoryMarshal.Cast<byte, float>(bytes).CopyTo(dst);
                        break;
                    case DType.F16:
                        ReadOnlySpan<Half> halves = MemoryMarshal.Cast<byte, Half>(bytes);
                        for (int i = 0; i < n; i++)
                        {
                            dst[i] = (float)halves[i];
                        }

                        break;
                    case DType.BF16:
                        for (int i = 0; i < n; i++)
                        {
                            dst[i] = Numerics.Bf16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                        }

                        break;
                    default:
                        throw new ModelFormatException($"{t.File.Path}: tensor '{t.Name}' is {t.Type.Name()}, not a float type");
                }

                CheckFinite(dst, start, t.Name, t.Shape, t.File.Path);   // the chunk is in cache: a cheap second look
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Throws, naming the tensor, the file and the first bad index (flat and per dimension), where
    /// <paramref name="values"/> (elements <paramref name="first"/> onwards) hold a NaN or an infinity: such a weight
    /// makes every logit NaN.</summary>
    internal static void CheckFinite(ReadOnlySpan<float> values, long first, string tensor, IReadOnlyList<long> shape, string file)
    {
        int bad = Numerics.IndexOfNonFinite(values);
        if (bad < 0)
        {
            return;
        }

        long at = first + bad, rest = at;
        var index = new long[shape.Count];
        for (int d = shape.Count - 1; d >= 0; d--)
        {
            index[d] = shape[d] > 0 ? rest % shape[d] : 0;
            rest = shape[d] > 0 ? rest / shape[d] : 0;
        }

        throw new ModelFormatException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{Path.GetFileName(file)}: tensor '{tensor}' holds {values[bad]} at index {at} ([{string.Join(", ", index)}]): a weight that is not finite makes every logit NaN"));
    }

    internal static int[] ReadInt32(TensorInfo t)
    {
        var values = new int[t.Elements];
        t.ReadBytes(MemoryMarshal.AsBytes(values.AsSpan()));
        if (!BitConverter.IsLittleEndian)
        {
            BinaryPrimitives.ReverseEndianness(values, values);
        }

        return values;
    }
}

/// <summary>BF16, F16 or F32 values as they are.</summary>
public sealed class DenseTensor(TensorSpec spec, TensorInfo tensor) : StoredTensor(spec)
{
    public TensorInfo Tensor { get; } = tensor;
    public override string Source => $"{Path.GetFileName(Tensor.File.Path)}: {Tensor.Name} ({Tensor.Type.Name()})";
    public override long StoredBytes => Tensor.Length;

    public override void ReadF32(Span<float> destination)
    {
        CheckDestination(destination);
        ReadFloats(Tensor, destination);
    }
}

/// <summary>
/// AutoGPTQ v1 int4 (docs/model.md 4.1): qweight int32 [in/8, out] packs 8 inputs per word, LSB first; qzeros int32
/// [in/group, out/8] packs 8 outputs per word and stores zero - 1; scales [in/group, out]; g_idx int32 [in] maps each input
/// to its group. w[o, k] = (q[k, o] - (zstored[g, o] + 1)) * scale[g, o] with g = g_idx[k].
/// </summary>
public sealed class GptqTensor(TensorSpec spec, TensorInfo qweight, TensorInfo qzeros, TensorInfo scales, TensorInfo? gIdx, int groupSize)
    : StoredTensor(spec)
{
    public TensorInfo QWeight { get; } = qweight;
    public TensorInfo QZeros { get; } = qzeros;
    public TensorInfo Scales { get; } = scales;
    public TensorInfo? GIdx { get; } = gIdx;
    public int GroupSize { get; } = groupSize;
    public int Out => (int)Spec.Shape[0];
    public int In => (int)Spec.Shape[1];
    public override string Source => $"{Path.GetFileName(QWeight.File.Path)}: {Name}.qweight/qzeros/scales (GPTQ int4, group {GroupSize})";
    public override long StoredBytes => QWeight.Length + QZeros.Length + Scales.Length + (GIdx?.Length ?? 0);

    /// <summary>The group of each input column: g_idx when stored, else k / group.</summary>
    public int[] Groups()
    {
        if (GIdx is null)
        {
            return Enumerable.Range(0, In).Select(k => k / GroupSize).ToArray();
        }

        int[] g = ReadInt32(GIdx);
        int groups = In / GroupSize;
        int bad = Array.FindIndex(g, x => x < 0 || x >= groups);
        return bad < 0 ? g : throw new ModelFormatException($"{Path.GetFileName(GIdx.File.Path)}: '{GIdx.Name}'[{bad}] = {g[bad]} is not a group in 0..{groups - 1}");
    }

    public override void ReadF32(Span<float> destination)
    {
        CheckDestination(destination);
        int outDim = Out, inDim = In;
        int[] q = ReadInt32(QWeight);
        int[] z = ReadInt32(QZeros);
        var s = new float[Scales.Elements];
        ReadFloats(Scales, s);
        int[] group = Groups();
        for (int k = 0; k < inDim; k++)
        {
            int row = k / 8, shift = 4 * (k % 8), g = group[k];
            for (int o = 0; o < outDim; o++)
            {
                int value = (q[row * outDim + o] >> shift) & 0xF;
                int zero = ((z[g * (outDim / 8) + o / 8] >> (4 * (o % 8))) & 0xF) + 1;
                destination[o * inDim + k] = (value - zero) * s[g * outDim + o];
            }
        }
    }
}

/// <summary>FP8 E4M3 weights [out, in] with one F32 scale for the whole tensor (docs/model.md 4.2): w = fp8 * weight_scale.</summary>
public sealed class Fp8Tensor(TensorSpec spec, TensorInfo weight, TensorInfo scale) : StoredTensor(spec)
{
    public TensorInfo Weight { get; } = weight;
    public TensorInfo Scale { get; } = scale;
    public override string Source => $"{Path.GetFileName(Weight.File.Path)}: {Weight.Name} (F8_E4M3, per-tensor scale)";
    public override long StoredBytes => Weight.Length + Scale.Length;

    public float ReadScale()
    {
        var s = new float[1];
        ReadFloats(Scale, s);
        return s[0];
    }

    public override void ReadF32(Span<float> destination)
    {
        CheckDestination(destination);
        float scale = ReadScale();
        byte[] codes = Weight.ReadAllBytes();
        for (int i = 0; i < codes.Length; i++)
        {
            destination[i] = Numerics.E4M3ToFloat(codes[i]) * scale;
        }

        CheckFinite(destination, 0, Weight.Name, Weight.Shape, Weight.File.Path);   // E4M3's NaN codes, or a scale that overflows
    }
}
