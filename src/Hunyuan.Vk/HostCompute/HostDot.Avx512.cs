using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hunyuan.Vk.HostCompute;

/// <summary>The 512-bit (AVX-512 BW) dots.</summary>
internal static partial class HostDot
{
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
}
