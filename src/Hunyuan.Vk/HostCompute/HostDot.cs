using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// One weight row dotted with an <see cref="Int8Activation"/> on the CPU, for the quantized formats the host experts
/// hold (Q8, Q4, Q4Z: <see cref="QuantizedMatrix"/>'s quants, the scales widened to f32 as <see cref="HostMatrix"/> holds them). Per 32-value block the integer products of the weight's
/// raw values and the activation's q are summed exactly (AVX2: <c>vpmaddubsw</c> pairs an unsigned byte with a signed
/// one, <c>vpmaddwd</c> sums pairs), then scaled by the two blocks' scales; a zero point z subtracts z x the block's
/// sum of q. Without AVX2 a scalar loop computes the same sums.
/// </summary>
internal static class HostDot
{
    /// <summary>Whether the AVX2 path runs (false: the scalar one; tests set it to compare the two).</summary>
    internal static bool UseAvx2 { get; set; } = Avx2.IsSupported;

    /// <summary>Q8 row: <paramref name="quants"/> one signed byte per value, a scale per 32.</summary>
    public static float Q8(ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, Int8Activation x)
    {
        int blocks = x.Length / Int8Activation.Block;
        Check(quants.Length, blocks * 32, scales.Length, blocks);
        ReadOnlySpan<sbyte> w = MemoryMarshal.Cast<byte, sbyte>(quants);
        ReadOnlySpan<sbyte> q = x.Q;
        if (UseAvx2)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            Vector256<short> ones = Vector256.Create((short)1);
            ref sbyte wr = ref MemoryMarshal.GetReference(w);
            ref sbyte qr = ref MemoryMarshal.GetReference(q);
            for (int b = 0; b < blocks; b++)
            {
                Vector256<sbyte> wv = Vector256.LoadUnsafe(ref wr, (nuint)(b * 32));
                Vector256<sbyte> qv = Vector256.LoadUnsafe(ref qr, (nuint)(b * 32));
                // |w| as unsigned times q with w's sign: vpmaddubsw needs its first operand unsigned.
                Vector256<short> pairs = Avx2.MultiplyAddAdjacent(Avx2.Abs(wv), Avx2.Sign(qv, wv));
                Vector256<int> sums = Avx2.MultiplyAddAdjacent(pairs, ones);
                acc = Fma.IsSupported
                    ? Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), Vector256.Create(scales[b] * x.Scales[b]), acc)
                    : acc + Avx.ConvertToVector256Single(sums) * Vector256.Create(scales[b] * x.Scales[b]);
            }

            return Vector256.Sum(acc);
        }

        float total = 0;
        for (int b = 0; b < blocks; b++)
        {
            int dot = 0;
            for (int k = b * 32; k < b * 32 + 32; k++)
            {
                dot += w[k] * q[k];
            }

            total += dot * (scales[b] * x.Scales[b]);
        }

        return total;
    }

    /// <summary>Q4 (<paramref name="zeros"/> empty: zero 8, a scale per 32) or Q4Z (a scale and a zero point per 128)
    /// row: 4-bit values packed 8 per little-endian word.</summary>
    public static float Q4(ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeros, Int8Activation x)
    {
        int blocks = x.Length / Int8Activation.Block;
        int blocksPerScale = zeros.IsEmpty ? 1 : WeightFormat.Q4Z.GroupSize() / 32;
        Check(quants.Length, blocks * 16, scales.Length, blocks / blocksPerScale);
        if (!zeros.IsEmpty && zeros.Length != scales.Length)
        {
            throw new ArgumentException($"{zeros.Length} zero points for {scales.Length} scales");
        }

        ReadOnlySpan<sbyte> q = x.QNibbleOrder;
        float total = 0;   // the zero points' part: sum of d_w d_x z sum(q)
        if (UseAvx2)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            Vector256<short> ones = Vector256.Create((short)1);
            Vector128<byte> low = Vector128.Create((byte)0x0F);
            ref byte wr = ref MemoryMarshal.GetReference(quants);
            ref sbyte qr = ref MemoryMarshal.GetReference(q);
            for (int b = 0; b < blocks; b++)
            {
                Vector128<byte> packed = Vector128.LoadUnsafe(ref wr, (nuint)(b * 16));
                Vector256<byte> nibbles = Vector256.Create(packed & low, Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low);
                Vector256<short> pairs = Avx2.MultiplyAddAdjacent(nibbles, Vector256.LoadUnsafe(ref qr, (nuint)(b * 32)));
                Vector256<int> sums = Avx2.MultiplyAddAdjacent(pairs, ones);
                float d = scales[b / blocksPerScale] * x.Scales[b];
                acc = Fma.IsSupported ? Fma.MultiplyAdd(Avx.ConvertToVector256Single(sums), Vector256.Create(d), acc) : acc + Avx.ConvertToVector256Single(sums) * Vector256.Create(d);
                total -= d * Zero(zeros, b / blocksPerScale) * x.Sums[b];
            }

            return total + Vector256.Sum(acc);
        }

        for (int b = 0; b < blocks; b++)
        {
            int dot = 0;
            for (int j = 0; j < 16; j++)
            {
                byte packed = quants[b * 16 + j];
                dot += (packed & 15) * q[b * 32 + j] + (packed >> 4) * q[b * 32 + 16 + j];
            }

            float d = scales[b / blocksPerScale] * x.Scales[b];
            total += d * (dot - Zero(zeros, b / blocksPerScale) * x.Sums[b]);
        }

        return total;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Zero(ReadOnlySpan<byte> zeros, int group) => zeros.IsEmpty ? 8 : zeros[group];

    private static void Check(int quants, int wantQuants, int scales, int wantScales)
    {
        if (quants != wantQuants || scales != wantScales)
        {
            throw new ArgumentException($"a row of {quants} quant bytes and {scales} scales; the activation needs {wantQuants} and {wantScales}");
        }
    }
}
