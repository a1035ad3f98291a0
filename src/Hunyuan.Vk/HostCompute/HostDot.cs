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
internal static partial class HostDot
{
    /// <summary>The instruction sets a dot can run on, slowest first.</summary>
    internal enum Path
    {
        Scalar,
        Ssse3,
        Avx2,

        /// <summary>512-bit loops. Tests run it where the CPU has no AVX-512 too: its few AVX-512 instructions then run
        /// as two AVX2 halves (<see cref="Dot(Vector512{byte}, Vector512{sbyte})"/>, <see cref="Abs"/>), so everything
        /// else of the path (block pairing, nibble order, scale products, tails) is tested on any AVX2 machine.</summary>
        Avx512,
    }

    /// <summary>The fastest path this CPU runs: what every call takes unless a test names another.</summary>
    internal static Path Best { get; } = Avx512BW.IsSupported ? Path.Avx512
        : Avx2.IsSupported && Fma.IsSupported ? Path.Avx2
        : Ssse3.IsSupported ? Path.Ssse3
        : Path.Scalar;

    /// <summary>Q8 row: <paramref name="quants"/> one signed byte per value, a scale per 32.</summary>
    public static float Q8(ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, Int8Activation x) => Q8(quants, scales, x, Best);

    /// <summary>As <see cref="Q8(ReadOnlySpan{byte}, ReadOnlySpan{float}, Int8Activation)"/> on <paramref name="path"/>.</summary>
    internal static float Q8(ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, Int8Activation x, Path path)
    {
        int blocks = x.Length / Int8Activation.Block;
        Check(quants.Length, blocks * 32, scales.Length, blocks);
        ReadOnlySpan<sbyte> w = MemoryMarshal.Cast<byte, sbyte>(quants);
        ReadOnlySpan<sbyte> q = x.Q;
        if (path >= Path.Avx2)
        {
            Span<float> d = blocks <= StackBlocks ? stackalloc float[blocks] : new float[blocks];
            BlockScales(scales, [], 0, x, blocks, 0, d);
            return path == Path.Avx512
                ? Q8Avx512(ref MemoryMarshal.GetReference(w), ref MemoryMarshal.GetReference(q), ref MemoryMarshal.GetReference(d), blocks)
                : Q8Avx2(ref MemoryMarshal.GetReference(w), ref MemoryMarshal.GetReference(q), ref MemoryMarshal.GetReference(d), blocks);
        }

        if (path == Path.Ssse3)
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
    public static float Q4(ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeros, Int8Activation x) =>
        Q4(quants, scales, zeros, x, Best);

    /// <summary>As <see cref="Q4(ReadOnlySpan{byte}, ReadOnlySpan{float}, ReadOnlySpan{byte}, Int8Activation)"/> on <paramref name="path"/>.</summary>
    internal static float Q4(ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeros, Int8Activation x, Path path)
    {
        int blocks = x.Length / Int8Activation.Block;
        int blocksPerScale = zeros.IsEmpty ? 1 : WeightFormat.Q4Z.GroupSize() / 32;
        Check(quants.Length, blocks * 16, scales.Length, blocks / blocksPerScale);
        if (!zeros.IsEmpty && zeros.Length != scales.Length)
        {
            throw new ArgumentException($"{zeros.Length} zero points for {scales.Length} scales");
        }

        ReadOnlySpan<sbyte> q = x.QNibbleOrder;
        if (path >= Path.Avx2)
        {
            Span<float> d = blocks <= StackBlocks ? stackalloc float[blocks] : new float[blocks];
            float zeroPart = BlockScales(scales, zeros, 8, x, blocks, BitOperations.Log2((uint)blocksPerScale), d);
            return path == Path.Avx512
                ? Q4Avx512(ref MemoryMarshal.GetReference(quants), ref MemoryMarshal.GetReference(q), ref MemoryMarshal.GetReference(d), zeroPart, blocks)
                : Q4Avx2(ref MemoryMarshal.GetReference(quants), ref MemoryMarshal.GetReference(q), ref MemoryMarshal.GetReference(d), zeroPart, blocks);
        }

        if (path == Path.Ssse3)
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

    /// <summary>The row of <c>Q8</c> or <c>Q4</c> dotted with up to <see cref="MaxBatch"/> activations at
    /// once (prefill: the tokens an expert was chosen for), decoding each weight block once for all of them.</summary>
    public static void Batch(WeightFormat format, ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeros,
        ReadOnlySpan<Int8Activation> xs, Span<float> dots) => Batch(format, quants, scales, zeros, xs, dots, Best);

    /// <summary>As <see cref="Batch(WeightFormat, ReadOnlySpan{byte}, ReadOnlySpan{float}, ReadOnlySpan{byte}, ReadOnlySpan{Int8Activation}, Span{float})"/>
    /// on <paramref name="path"/> (below AVX2: one row dot per activation).</summary>
    internal static void Batch(WeightFormat format, ReadOnlySpan<byte> quants, ReadOnlySpan<float> scales, ReadOnlySpan<byte> zeros,
        ReadOnlySpan<Int8Activation> xs, Span<float> dots, Path path)
    {
        if (xs.Length > MaxBatch || dots.Length < xs.Length)
        {
            throw new ArgumentException($"{xs.Length} activations (at most {MaxBatch}) into {dots.Length} dots");
        }

        if (path < Path.Avx2 || xs.Length == 1)
        {
            for (int t = 0; t < xs.Length; t++)
            {
                dots[t] = format == WeightFormat.Q8 ? Q8(quants, scales, xs[t], path) : Q4(quants, scales, zeros, xs[t], path);
            }

            return;
        }

        BatchAvx2(format, quants, scales, zeros, xs, dots);
    }

    /// <summary>Most activations of one <c>Batch</c>.</summary>
    public const int MaxBatch = 4;

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
