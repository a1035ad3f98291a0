using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.HostCompute;

/// <summary>The 256-bit (AVX2, FMA; AVX-VNNI where there) dots.</summary>
internal static partial class HostDot
{
    // The AVX2 loops take each block's scale product from BlockScales' pass (one broadcast, where computing it
    // in the loop cost three instructions and the zero point's part four more, about half of a block's work: the
    // loop is bound by instructions issued, not by memory), two blocks per iteration into two accumulators (one
    // multiply-add chain alone is latency-bound), and walk the rows by moving refs (an index costs a shift and a
    // sign extension per load).
    private static float Q8Avx2(ref sbyte w, ref sbyte q, ref float d, int blocks)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        int b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            Vector256<sbyte> w0 = Vector256.LoadUnsafe(ref w), w1 = Vector256.LoadUnsafe(ref w, 32);
            // |w| as unsigned times q with w's sign: vpmaddubsw and vpdpbusd need their first operand unsigned.
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Dot(Avx2.Abs(w0), Avx2.Sign(Vector256.LoadUnsafe(ref q), w0))), Vector256.Create(d), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Dot(Avx2.Abs(w1), Avx2.Sign(Vector256.LoadUnsafe(ref q, 32), w1))), Vector256.Create(Unsafe.Add(ref d, 1)), acc1);
            w = ref Unsafe.Add(ref w, 64);
            q = ref Unsafe.Add(ref q, 64);
            d = ref Unsafe.Add(ref d, 2);
        }

        if (b < blocks)
        {
            Vector256<sbyte> w0 = Vector256.LoadUnsafe(ref w);
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Dot(Avx2.Abs(w0), Avx2.Sign(Vector256.LoadUnsafe(ref q), w0))), Vector256.Create(d), acc0);
        }

        return Vector256.Sum(acc0 + acc1);
    }

    // As Q8Avx2, on the raw nibbles; the zero points' part (from BlockScales) is taken off the total.
    private static float Q4Avx2(ref byte w, ref sbyte q, ref float d, float zeroPart, int blocks)
    {
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        int b = 0;
        for (; b + 2 <= blocks; b += 2)
        {
            // Blocks b and b + 1 at once: each block's low nibbles, then its high ones, against q in nibble order.
            Vector256<byte> packed = Vector256.LoadUnsafe(ref w);
            Vector256<byte> low = packed & mask, high = Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask;
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Dot(Avx2.Permute2x128(low, high, 0x20), Vector256.LoadUnsafe(ref q))), Vector256.Create(d), acc0);
            acc1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Dot(Avx2.Permute2x128(low, high, 0x31), Vector256.LoadUnsafe(ref q, 32))), Vector256.Create(Unsafe.Add(ref d, 1)), acc1);
            w = ref Unsafe.Add(ref w, 32);
            q = ref Unsafe.Add(ref q, 64);
            d = ref Unsafe.Add(ref d, 2);
        }

        if (b < blocks)
        {
            Vector128<byte> packed = Vector128.LoadUnsafe(ref w);
            Vector256<byte> nibbles = Vector256.Create(packed & mask.GetLower(), Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask.GetLower());
            acc0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(Dot(nibbles, Vector256.LoadUnsafe(ref q))), Vector256.Create(d), acc0);
        }

        return Vector256.Sum(acc0 + acc1) - zeroPart;
    }

    // d[b] = the row's scale of block b x the activation's scale of block b, 8 blocks a step where the row has a
    // scale per block or per 4 (Q4Z's 128), else one at a time; returns the zero points' part of the dot,
    // sum over b of d[b] z(b) sums[b] (zero: Q8's none, 8 for Q4, Q4Z's per group).
    private static float BlockScales(ReadOnlySpan<float> ws, ReadOnlySpan<byte> zeros, int zero, Int8Activation x, int blocks, int scaleShift, Span<float> d)
    {
        ReadOnlySpan<float> xs = x.Scales.AsSpan(0, blocks);
        ReadOnlySpan<int> sums = x.Sums.AsSpan(0, blocks);
        Vector256<float> part = Vector256<float>.Zero;
        Vector256<int> spread = Vector256.Create(0, 0, 0, 0, 1, 1, 1, 1);
        int b = 0;
        if (scaleShift is 0 or 2)
        {
            for (; b + 8 <= blocks; b += 8)
            {
                int g = b >> scaleShift;
                Vector256<float> s = scaleShift == 0
                    ? Vector256.Create(ws.Slice(b, 8))
                    : Avx2.PermuteVar8x32(Vector128.CreateScalar(MemoryMarshal.Read<double>(MemoryMarshal.AsBytes(ws.Slice(g, 2)))).AsSingle().ToVector256Unsafe(), spread);
                Vector256<float> db = s * Vector256.Create(xs.Slice(b, 8));
                db.StoreUnsafe(ref MemoryMarshal.GetReference(d), (nuint)b);
                if (zeros.IsEmpty && zero == 0)
                {
                    continue;
                }

                Vector256<float> z = zeros.IsEmpty
                    ? Vector256.Create((float)zero)
                    : Avx.ConvertToVector256Single(Avx2.PermuteVar8x32(Avx2.ConvertToVector256Int32(Vector128.CreateScalar(MemoryMarshal.Read<ushort>(zeros.Slice(g, 2))).AsByte()), spread));
                part = Fma.MultiplyAdd(db * z, Avx.ConvertToVector256Single(Vector256.Create(sums.Slice(b, 8))), part);
            }
        }

        float tail = 0;
        for (; b < blocks; b++)
        {
            int g = b >> scaleShift;
            d[b] = ws[g] * xs[b];
            tail += d[b] * (zeros.IsEmpty ? zero : zeros[g]) * sums[b];
        }

        return Vector256.Sum(part) + tail;
    }

    // Rows of more blocks than this take their scale products from the heap (none of A13B's: 128 at most).
    private const int StackBlocks = 1024;

    // Batch on AVX2: each weight block decoded once, dotted with every activation.
    private static void BatchAvx2(WeightFormat format, ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeros,
        ReadOnlySpan<Int8Activation> xs, Span<float> dots)
    {
        int blocks = xs[0].Length / Int8Activation.Block;
        int scaleShift = format == WeightFormat.Q4Z ? BitOperations.Log2((uint)WeightFormat.Q4Z.GroupSize() / 32) : 0;
        Check(quants.Length, blocks * (format == WeightFormat.Q8 ? 32 : 16), scales.Length, blocks >> scaleShift);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector256<short> ones = Vector256.Create((short)1);
        Vector128<byte> low = Vector128.Create((byte)0x0F);
        ref byte wr = ref MemoryMarshal.GetReference(quants);
        int n = xs.Length;
        for (int b = 0; b < blocks; b++)
        {
            int group = b >> scaleShift;
            float ws = scales[group];
            // The weights of the block, once: Q8 as |w| with the sign kept for q; Q4 as nibbles (zero point apart).
            Vector256<byte> wv;
            Vector256<sbyte> sign = default;
            int zero = 0;
            if (format == WeightFormat.Q8)
            {
                Vector256<sbyte> w = Vector256.LoadUnsafe(ref Unsafe.As<byte, sbyte>(ref wr), (nuint)(b * 32));
                wv = Avx2.Abs(w).AsByte();
                sign = w;
            }
            else
            {
                Vector128<byte> packed = Vector128.LoadUnsafe(ref wr, (nuint)(b * 16));
                wv = Vector256.Create(packed & low, Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & low);
                zero = Zero(zeros, group);
            }

            for (int t = 0; t < n; t++)
            {
                Int8Activation x = xs[t];
                ref sbyte qr = ref MemoryMarshal.GetReference(format == WeightFormat.Q8 ? x.Q.AsSpan() : x.QNibbleOrder.AsSpan());
                Vector256<sbyte> q = Vector256.LoadUnsafe(ref qr, (nuint)(b * 32));
                Vector256<int> dot = Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(wv, format == WeightFormat.Q8 ? Avx2.Sign(q, sign) : q), ones);
                dot -= Vector256.CreateScalar(zero * x.Sums[b]);
                Vector256<float> d = Vector256.Create(ws * x.Scales[b]);
                switch (t)
                {
                    case 0: a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), d, a0); break;
                    case 1: a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), d, a1); break;
                    case 2: a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), d, a2); break;
                    default: a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), d, a3); break;
                }
            }
        }

        dots[0] = Vector256.Sum(a0);
        dots[1] = Vector256.Sum(a1);
        if (n > 2)
        {
            dots[2] = Vector256.Sum(a2);
        }

        if (n > 3)
        {
            dots[3] = Vector256.Sum(a3);
        }
    }

    // The sums of each 4 adjacent products of unsigned u and signed s: one vpdpbusd with AVX-VNNI, else vpmaddubsw
    // then vpmaddwd. The two agree because no pair here reaches vpmaddubsw's int16 saturation
    // (u <= 128, |s| <= 127: 2 x 128 x 127 < 32768).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
        AvxVnni.IsSupported
            ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s)
            : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));
}
