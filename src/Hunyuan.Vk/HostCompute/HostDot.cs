using System.Numerics;
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
/// sum of q. With AVX-512 (BW) a 512-bit loop takes two blocks per vector; where AVX-VNNI is, <c>vpdpbusd</c> does
/// both multiply-adds in one instruction. Without AVX2 a 128-bit (SSSE3) loop, without that a scalar one, computes
/// the same sums.
/// </summary>
internal static class HostDot
{
    /// <summary>Whether the 512-bit path runs. Tests set it where the CPU has no AVX-512 too: its few AVX-512
    /// instructions then run as two AVX2 halves (<see cref="Dot(Vector512{byte}, Vector512{sbyte})"/>,
    /// <see cref="Abs"/>), so everything else of the path (block pairing, nibble order, scale products, tails) is
    /// tested on any AVX2 machine.</summary>
    internal static bool UseAvx512 { get; set; } = Avx512BW.IsSupported;

    /// <summary>Whether the AVX2 path runs (false: the 128-bit one; tests set it to compare the paths).</summary>
    internal static bool UseAvx2 { get; set; } = Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Whether the 128-bit (SSSE3) path runs where AVX2 does not (false: the scalar one).</summary>
    internal static bool UseSsse3 { get; set; } = Ssse3.IsSupported;

    /// <summary>Q8 row: <paramref name="quants"/> one signed byte per value, a scale per 32.</summary>
    public static float Q8(ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, Int8Activation x)
    {
        int blocks = x.Length / Int8Activation.Block;
        Check(quants.Length, blocks * 32, scales.Length, blocks);
        ReadOnlySpan<sbyte> w = MemoryMarshal.Cast<byte, sbyte>(quants);
        ReadOnlySpan<sbyte> q = x.Q;
        if (UseAvx512 || UseAvx2)
        {
            Span<float> d = blocks <= StackBlocks ? stackalloc float[blocks] : new float[blocks];
            BlockScales(scales, [], 0, x, blocks, 0, d);
            return UseAvx512
                ? Q8Avx512(ref MemoryMarshal.GetReference(w), ref MemoryMarshal.GetReference(q), ref MemoryMarshal.GetReference(d), blocks)
                : Q8Avx2(ref MemoryMarshal.GetReference(w), ref MemoryMarshal.GetReference(q), ref MemoryMarshal.GetReference(d), blocks);
        }

        if (UseSsse3)
        {
            Vector128<float> acc = Vector128<float>.Zero;
            for (int b = 0; b < blocks; b++)
            {
                Vector128<int> sums = Pairs128(Vector128.Create(w.Slice(b * 32, 16)), Vector128.Create(q.Slice(b * 32, 16)))
                    + Pairs128(Vector128.Create(w.Slice(b * 32 + 16, 16)), Vector128.Create(q.Slice(b * 32 + 16, 16)));
                acc += Sse2.ConvertToVector128Single(sums) * Vector128.Create(scales[b] * x.Scales[b]);
            }

            return Vector128.Sum(acc);
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
        if (UseAvx512 || UseAvx2)
        {
            Span<float> d = blocks <= StackBlocks ? stackalloc float[blocks] : new float[blocks];
            float zeroPart = BlockScales(scales, zeros, 8, x, blocks, BitOperations.Log2((uint)blocksPerScale), d);
            return UseAvx512
                ? Q4Avx512(ref MemoryMarshal.GetReference(quants), ref MemoryMarshal.GetReference(q), ref MemoryMarshal.GetReference(d), zeroPart, blocks)
                : Q4Avx2(ref MemoryMarshal.GetReference(quants), ref MemoryMarshal.GetReference(q), ref MemoryMarshal.GetReference(d), zeroPart, blocks);
        }

        if (UseSsse3)
        {
            Vector128<float> acc = Vector128<float>.Zero;
            Vector128<byte> mask = Vector128.Create((byte)0x0F);
            Vector128<short> ones = Vector128.Create((short)1);
            for (int b = 0; b < blocks; b++)
            {
                Vector128<byte> packed = Vector128.Create(quants.Slice(b * 16, 16));
                Vector128<short> pairs = Ssse3.MultiplyAddAdjacent(packed & mask, Vector128.Create(q.Slice(b * 32, 16)))
                    + Ssse3.MultiplyAddAdjacent(Vector128.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask, Vector128.Create(q.Slice(b * 32 + 16, 16)));
                Vector128<int> sums = Sse2.MultiplyAddAdjacent(pairs, ones) - Vector128.CreateScalar(Zero(zeros, b / blocksPerScale) * x.Sums[b]);
                acc += Sse2.ConvertToVector128Single(sums) * Vector128.Create(scales[b / blocksPerScale] * x.Scales[b]);
            }

            return Vector128.Sum(acc);
        }

        float total = 0;
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

    /// <summary>The row of <see cref="Q8"/> or <see cref="Q4"/> dotted with up to <see cref="MaxBatch"/> activations at
    /// once (prefill: the tokens an expert was chosen for), decoding each weight block once for all of them.</summary>
    public static void Batch(WeightFormat format, ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeros,
        ReadOnlySpan<Int8Activation> xs, Span<float> dots)
    {
        if (xs.Length > MaxBatch || dots.Length < xs.Length)
        {
            throw new ArgumentException($"{xs.Length} activations (at most {MaxBatch}) into {dots.Length} dots");
        }

        if (!UseAvx2 || xs.Length == 1)
        {
            for (int t = 0; t < xs.Length; t++)
            {
                dots[t] = format == WeightFormat.Q8 ? Q8(quants, scales, xs[t]) : Q4(quants, scales, zeros, xs[t]);
            }

            return;
        }

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

    // 16 signed weights times 16 q, in 4 lanes of int32: |w| unsigned against q with w's sign (pmaddubsw), pairs summed.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Pairs128(Vector128<sbyte> w, Vector128<sbyte> q) =>
        Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(Ssse3.Abs(w), Ssse3.Sign(q, w)), Vector128.Create((short)1));

    /// <summary>Most activations of one <see cref="Batch"/>.</summary>
    public const int MaxBatch = 4;

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

    // As the AVX2 loops with two blocks per vector (lanes 0-7 block b, 8-15 block b + 1), two vectors per iteration
    // into two accumulators; what is left (fewer than 4 blocks) goes through the AVX2 loop.
    private static float Q8Avx512(ref sbyte w, ref sbyte q, ref float d, int blocks)
    {
        Vector512<float> acc0 = Vector512<float>.Zero, acc1 = Vector512<float>.Zero;
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            acc0 = Q8Pair(ref w, ref q, ref d, acc0);
            acc1 = Q8Pair(ref Unsafe.Add(ref w, 64), ref Unsafe.Add(ref q, 64), ref Unsafe.Add(ref d, 2), acc1);
            w = ref Unsafe.Add(ref w, 128);
            q = ref Unsafe.Add(ref q, 128);
            d = ref Unsafe.Add(ref d, 4);
        }

        return Vector512.Sum(acc0 + acc1) + (b < blocks ? Q8Avx2(ref w, ref q, ref d, blocks - b) : 0);
    }

    // Two Q8 blocks. AVX-512 has no vpsignb: q takes w's sign by a select.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q8Pair(ref sbyte w, ref sbyte q, ref float d, Vector512<float> acc)
    {
        Vector512<sbyte> wv = Vector512.LoadUnsafe(ref w), qv = Vector512.LoadUnsafe(ref q);
        Vector512<sbyte> signed = Vector512.ConditionalSelect(Vector512.LessThan(wv, Vector512<sbyte>.Zero), -qv, qv);
        return Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(Dot(Abs(wv), signed)), Pair(ref d), acc);
    }

    // As Q8Avx512, for Q4/Q4Z.
    private static float Q4Avx512(ref byte w, ref sbyte q, ref float d, float zeroPart, int blocks)
    {
        Vector512<float> acc0 = Vector512<float>.Zero, acc1 = Vector512<float>.Zero;
        int b = 0;
        for (; b + 4 <= blocks; b += 4)
        {
            acc0 = Q4Pair(ref w, ref q, ref d, acc0);
            acc1 = Q4Pair(ref Unsafe.Add(ref w, 32), ref Unsafe.Add(ref q, 64), ref Unsafe.Add(ref d, 2), acc1);
            w = ref Unsafe.Add(ref w, 64);
            q = ref Unsafe.Add(ref q, 128);
            d = ref Unsafe.Add(ref d, 4);
        }

        return Vector512.Sum(acc0 + acc1) + (b < blocks ? Q4Avx2(ref w, ref q, ref d, 0, blocks - b) : 0) - zeroPart;
    }

    // Two Q4 blocks from 32 packed bytes: each block's low nibbles then its high ones, against q in nibble order.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Q4Pair(ref byte w, ref sbyte q, ref float d, Vector512<float> acc)
    {
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        Vector256<byte> packed = Vector256.LoadUnsafe(ref w);
        Vector256<byte> low = packed & mask, high = Vector256.ShiftRightLogical(packed.AsUInt16(), 4).AsByte() & mask;
        Vector512<byte> nibbles = Vector512.Create(Vector256.Create(low.GetLower(), high.GetLower()), Vector256.Create(low.GetUpper(), high.GetUpper()));
        return Vector512.FusedMultiplyAdd(Vector512.ConvertToSingle(Dot(nibbles, Vector512.LoadUnsafe(ref q))), Pair(ref d), acc);
    }

    // Two blocks' scale products, each over its 8 lanes.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pair(ref float d) => Vector512.Create(Vector256.Create(d), Vector256.Create(Unsafe.Add(ref d, 1)));

    // The sums of each 4 adjacent products of unsigned u and signed s: one vpdpbusd with AVX-VNNI, else vpmaddubsw
    // then vpmaddwd. The two agree because no pair here reaches vpmaddubsw's int16 saturation
    // (u <= 128, |s| <= 127: 2 x 128 x 127 < 32768).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot(Vector256<byte> u, Vector256<sbyte> s) =>
        AvxVnni.IsSupported
            ? AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, u, s)
            : Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(u, s), Vector256.Create((short)1));

    // As the 256-bit one; without AVX-512 (tests) it runs as two 256-bit halves.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Dot(Vector512<byte> u, Vector512<sbyte> s) =>
        Avx512BW.IsSupported
            ? Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u, s), Vector512.Create((short)1))
            : Vector512.Create(Dot(u.GetLower(), s.GetLower()), Dot(u.GetUpper(), s.GetUpper()));

    // |w| as unsigned bytes (-128 gives 128), as vpabsb does.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Abs(Vector512<sbyte> w) =>
        Avx512BW.IsSupported ? Avx512BW.Abs(w) : Vector512.Create(Avx2.Abs(w.GetLower()), Avx2.Abs(w.GetUpper()));

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
