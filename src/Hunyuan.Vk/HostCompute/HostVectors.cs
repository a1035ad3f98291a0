using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// The host executor's f32 vector loops that <see cref="System.Numerics.Tensors.TensorPrimitives"/> does not do fast
/// enough at these sizes: f16 to f32 (its conversion runs one value at a time, about 3 ns each), and attention's dots and
/// weighted sums over a tile of positions for the query heads that share a KV head (one call per position and head
/// costs ~40 ns of overhead for 128 multiply-adds). 256-bit loops; <see cref="Vector256"/> runs in software where the
/// CPU has no AVX, so the results are the same on every machine.
/// </summary>
internal static class HostVectors
{
    /// <summary>f16 values to f32, exactly (subnormals, infinities and NaNs included).</summary>
    public static void ToSingle(ReadOnlySpan<Half> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException($"{source.Length} values into {destination.Length}");
        }

        ReadOnlySpan<ushort> bits = MemoryMarshal.Cast<Half, ushort>(source);
        Span<uint> into = MemoryMarshal.Cast<float, uint>(destination);
        int i = 0;
        for (; i + 8 <= bits.Length; i += 8)
        {
            Vector128<ushort> h = Vector128.LoadUnsafe(ref MemoryMarshal.GetReference(bits), (nuint)i);
            Vector256<uint> w = Avx2.IsSupported ? Avx2.ConvertToVector256Int32(h).AsUInt32() : Vector256.Create(Vector128.WidenLower(h), Vector128.WidenUpper(h));
            Widen(w).StoreUnsafe(ref MemoryMarshal.GetReference(into), (nuint)i);
        }

        for (; i < bits.Length; i++)
        {
            destination[i] = (float)source[i];
        }
    }

    // Infinities and NaNs keep an all-ones exponent; the rest as WidenFinite.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> Widen(Vector256<uint> h)
    {
        Vector256<uint> magnitude = h & Vector256.Create(0x7FFFu);
        Vector256<uint> special = (magnitude << 13) | Vector256.Create(0x7F800000u) | ((h & Vector256.Create(0x8000u)) << 16);
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(magnitude, Vector256.Create(0x7C00u)), special, WidenFinite(h).AsUInt32());
    }

    /// <summary>Finite f16 bits (one per 32-bit lane) to f32: exponent and mantissa shifted into f32's place, scaled by
    /// 2^112 (which turns f16's bias into f32's and makes subnormals normal), then the sign. The CPU's own conversion
    /// (vcvtph2ps) is not in .NET 10.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> WidenFinite(Vector256<uint> h) =>
        (((h & Vector256.Create(0x7FFFu)) << 13).AsSingle() * Vector256.Create(5.192297e33f)).AsUInt32().AsSingle()
        | ((h & Vector256.Create(0x8000u)) << 16).AsSingle();

    /// <inheritdoc cref="WidenFinite(Vector256{uint})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> WidenFinite(Vector512<uint> h) =>
        (((h & Vector512.Create(0x7FFFu)) << 13).AsSingle() * Vector512.Create(5.192297e33f)).AsUInt32().AsSingle()
        | ((h & Vector512.Create(0x8000u)) << 16).AsSingle();

    /// <summary>scores[j * stride + i] = (q_j . k_i) * scale for the <paramref name="heads"/> query heads in
    /// <paramref name="q"/> ([heads][d]) and the <paramref name="count"/> keys in <paramref name="k"/> ([count][d]);
    /// d a multiple of 8.</summary>
    public static void Scores(ReadOnlySpan<float> q, int heads, ReadOnlySpan<float> k, int count, int d, float scale, Span<float> scores, int stride)
    {
        ref float q0 = ref MemoryMarshal.GetReference(q);
        ref float k0 = ref MemoryMarshal.GetReference(k);
        for (int i = 0; i < count; i++)
        {
            ref float ki = ref Unsafe.Add(ref k0, i * d);
            int j = 0;
            for (; j + 4 <= heads; j += 4)
            {
                // Four heads against one key: each load of k serves four multiply-adds.
                Vector256<float> a0 = Vector256<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                ref float qj = ref Unsafe.Add(ref q0, j * d);
                for (int c = 0; c < d; c += 8)
                {
                    Vector256<float> kv = Vector256.LoadUnsafe(ref ki, (nuint)c);
                    a0 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref qj, (nuint)c), kv, a0);
                    a1 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref qj, (nuint)(d + c)), kv, a1);
                    a2 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref qj, (nuint)(2 * d + c)), kv, a2);
                    a3 = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref qj, (nuint)(3 * d + c)), kv, a3);
                }

                scores[j * stride + i] = Vector256.Sum(a0) * scale;
                scores[(j + 1) * stride + i] = Vector256.Sum(a1) * scale;
                scores[(j + 2) * stride + i] = Vector256.Sum(a2) * scale;
                scores[(j + 3) * stride + i] = Vector256.Sum(a3) * scale;
            }

            for (; j < heads; j++)
            {
                Vector256<float> a = Vector256<float>.Zero;
                ref float qj = ref Unsafe.Add(ref q0, j * d);
                for (int c = 0; c < d; c += 8)
                {
                    a = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref qj, (nuint)c), Vector256.LoadUnsafe(ref ki, (nuint)c), a);
                }

                scores[j * stride + i] = Vector256.Sum(a) * scale;
            }
        }
    }

    /// <summary>output[j] += sum over i of weights[j * stride + i] * v_i for the <paramref name="heads"/> heads
    /// (<paramref name="output"/> [heads][d]) and the <paramref name="count"/> values in <paramref name="v"/>
    /// ([count][d]); d a multiple of 8.</summary>
    public static void WeightedSum(ReadOnlySpan<float> weights, int stride, int heads, ReadOnlySpan<float> v, int count, int d, Span<float> output)
    {
        ref float v0 = ref MemoryMarshal.GetReference(v);
        ref float o0 = ref MemoryMarshal.GetReference(output);
        ref float w0 = ref MemoryMarshal.GetReference(weights);
        for (int j = 0; j < heads; j++)
        {
            ref float oj = ref Unsafe.Add(ref o0, j * d);
            ref float wj = ref Unsafe.Add(ref w0, j * stride);
            for (int c = 0; c < d; c += 32)
            {
                // 32 of the head's outputs in four registers across all the tile's positions.
                int width = Math.Min(32, d - c);
                if (width < 32)
                {
                    for (int cc = c; cc < d; cc += 8)
                    {
                        Vector256<float> a = Vector256.LoadUnsafe(ref oj, (nuint)cc);
                        for (int i = 0; i < count; i++)
                        {
                            a = Vector256.FusedMultiplyAdd(Vector256.Create(Unsafe.Add(ref wj, i)), Vector256.LoadUnsafe(ref v0, (nuint)(i * d + cc)), a);
                        }

                        a.StoreUnsafe(ref oj, (nuint)cc);
                    }

                    break;
                }

                Vector256<float> a0 = Vector256.LoadUnsafe(ref oj, (nuint)c), a1 = Vector256.LoadUnsafe(ref oj, (nuint)(c + 8));
                Vector256<float> a2 = Vector256.LoadUnsafe(ref oj, (nuint)(c + 16)), a3 = Vector256.LoadUnsafe(ref oj, (nuint)(c + 24));
                for (int i = 0; i < count; i++)
                {
                    Vector256<float> p = Vector256.Create(Unsafe.Add(ref wj, i));
                    ref float vi = ref Unsafe.Add(ref v0, i * d + c);
                    a0 = Vector256.FusedMultiplyAdd(p, Vector256.LoadUnsafe(ref vi), a0);
                    a1 = Vector256.FusedMultiplyAdd(p, Vector256.LoadUnsafe(ref vi, 8), a1);
                    a2 = Vector256.FusedMultiplyAdd(p, Vector256.LoadUnsafe(ref vi, 16), a2);
                    a3 = Vector256.FusedMultiplyAdd(p, Vector256.LoadUnsafe(ref vi, 24), a3);
                }

                a0.StoreUnsafe(ref oj, (nuint)c);
                a1.StoreUnsafe(ref oj, (nuint)(c + 8));
                a2.StoreUnsafe(ref oj, (nuint)(c + 16));
                a3.StoreUnsafe(ref oj, (nuint)(c + 24));
            }
        }
    }
}
