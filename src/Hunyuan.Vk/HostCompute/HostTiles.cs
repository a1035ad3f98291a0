using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// A quantized matrix laid out for products with several tokens at once: rows in groups of 16 (the last group padded
/// with zero rows), each group's 32-value blocks stored so that one 256-bit register holds 4 consecutive values of each
/// of 8 rows (lane r, bytes 4r..4r+3), two registers (halves) covering the group. One token's 4 int8 values broadcast
/// to every lane then give 8 rows' partial dots in one <c>vpdpbusd</c> (AVX-VNNI) or <c>vpmaddubsw</c> +
/// <c>vpmaddwd</c> (AVX2), each broadcast serving both halves: a block is 8 such steps per half and token, the weights
/// decoded once for a tile of up to <see cref="TileTokens"/> tokens, and each block's scales applied to 8 rows in one
/// vector multiply (a row-at-a-time dot spends as many instructions on scales as on products). The values are
/// unsigned, u = w + z: Q4's nibbles (z 8), Q4Z's nibbles (z its zero point), Q8's w + 128 (z 128); the products
/// subtract z times the block's sum of the activation's q.
/// <list type="bullet">
/// <item>Q4/Q4Z: 256 bytes per group and block, 8 registers' worth, (pair m, half h) at 32 (2m + h): byte 4r + i holds,
/// in its low nibble, value 8m + i of row 8h + r, in its high nibble value 8m + 4 + i.</item>
/// <item>Q8: 512 bytes per group and block, 16 registers' worth, (register k, half h) at 32 (2k + h): byte 4r + i is
/// value 4k + i of row 8h + r, + 128.</item>
/// <item>Scales f16 (as the checkpoint's), 16 per group and scale group (32 values; Q4Z's 128); Q4Z's zero points f16 the
/// same way (small integers, exact). f32 would add a bit per value to every product's bytes.</item>
/// </list>
/// </summary>
internal sealed class HostTiles
{
    public const int GroupRows = 16;
    private const int HalfRows = 8;
    /// <summary>Tokens a call takes at most: the 512-bit kernel's tile (the 256-bit kernels run them 4 at a time).</summary>
    public const int TileTokens = 8;
    private const int NarrowTokens = 4;
    private const int PrefetchDistance = 4096;
    private const int Block = 32;

    public HostTiles(QuantizedMatrix m)
    {
        ArgumentNullException.ThrowIfNull(m);
        if (m.Format is not (WeightFormat.Q8 or WeightFormat.Q4 or WeightFormat.Q4Z))
        {
            throw new NotSupportedException($"tiles hold Q8, Q4 and Q4Z; not {m.Format}");
        }

        Format = m.Format;
        Rows = m.Rows;
        Cols = m.Cols;
        Groups = (Rows + GroupRows - 1) / GroupRows;
        Blocks = Cols / Block;
        BlockBytes = Format == WeightFormat.Q8 ? 512 : 256;
        BlocksPerScale = Format.GroupSize() / Block;
        int scaleGroups = Blocks / BlocksPerScale;
        Quants = new byte[(long)Groups * Blocks * BlockBytes];
        Scales = new Half[Groups * scaleGroups * GroupRows];
        Zeros = Format == WeightFormat.Q4Z ? new Half[Scales.Length] : [];
        ConstantZero = Format switch { WeightFormat.Q8 => 128, WeightFormat.Q4 => 8, _ => 0 };
        // Groups in parallel (a loading model's largest cost after reading); each writes only its own tiles.
        Parallel.For(0, Groups, g =>
        {
            for (int r = g * GroupRows; r < Math.Min(Rows, (g + 1) * GroupRows); r++)
            {
                PlaceRow(m, r);
            }
        });
    }

    // Row r's blocks into its group's tiles (the layout above), and its scales and zero points.
    private void PlaceRow(QuantizedMatrix m, int r)
    {
        int g = r / GroupRows, lane = r % GroupRows, half = lane / HalfRows, at = lane % HalfRows * 4;
        int scaleGroups = Blocks / BlocksPerScale;
        ReadOnlySpan<byte> row = m.Quants.AsSpan(r * m.RowBytes, m.RowBytes);
        for (int b = 0; b < Blocks; b++)
        {
            Span<byte> tile = Quants.AsSpan().Slice((int)(((long)g * Blocks + b) * BlockBytes), BlockBytes);
            if (Format == WeightFormat.Q8)
            {
                // Register k (values 4k .. 4k + 3) of the row's half at 32 (2k + half): its 4 bytes + 128 (the top bit
                // flipped).
                for (int k = 0; k < 8; k++)
                {
                    uint v = BinaryPrimitives.ReadUInt32LittleEndian(row.Slice(b * Block + 4 * k, 4)) ^ 0x80808080u;
                    BinaryPrimitives.WriteUInt32LittleEndian(tile.Slice((2 * k + half) * 32 + at, 4), v);
                }
            }
            else
            {
                // Pair p, byte i: value 8p + i in the low nibble, 8p + 4 + i in the high one; the row holds value c in
                // nibble c % 2 of byte c / 2.
                ReadOnlySpan<byte> values = row.Slice(b * Block / 2, Block / 2);
                for (int p = 0; p < 4; p++)
                {
                    for (int i = 0; i < 4; i++)
                    {
                        int shift = 4 * (i & 1), low = (values[4 * p + i / 2] >> shift) & 15, high = (values[4 * p + 2 + i / 2] >> shift) & 15;
                        tile[(2 * p + half) * 32 + at + i] = (byte)(low | high << 4);
                    }
                }
            }
        }

        for (int s = 0; s < scaleGroups; s++)
        {
            Scales[(g * scaleGroups + s) * GroupRows + lane] = m.Scales[r * m.GroupsPerRow + s];
            if (Zeros.Length > 0)
            {
                Zeros[(g * scaleGroups + s) * GroupRows + lane] = (Half)m.Zeros[r * m.GroupsPerRow + s];
            }
        }
    }

    public WeightFormat Format { get; }
    public int Rows { get; }
    public int Cols { get; }
    public int Groups { get; }
    public int Blocks { get; }
    public int BlockBytes { get; }
    public int BlocksPerScale { get; }
    public byte[] Quants { get; }
    public Half[] Scales { get; }
    public Half[] Zeros { get; }

    /// <summary>z of every value (Q4, Q8); 0 where <see cref="Zeros"/> holds them (Q4Z).</summary>
    public int ConstantZero { get; }

    /// <summary>Bytes a product reads: quants, f16 scales and zero points.</summary>
    public long Bytes => Quants.LongLength + 2L * (Scales.LongLength + Zeros.LongLength);

    /// <summary>Where value k (0..31) of a block of row <paramref name="lane"/> of a group lies in the block's bytes, and
    /// its shift (a nibble's 0 or 4; Q8's 0).</summary>
    private (int At, int Shift) Place(int lane, int k)
    {
        int half = lane / HalfRows, r = lane % HalfRows;
        return Format == WeightFormat.Q8
            ? (((k / 4) * 2 + half) * 32 + r * 4 + k % 4, 0)
            : (((k / 8) * 2 + half) * 32 + r * 4 + k % 4, k % 8 < 4 ? 0 : 4);
    }

    /// <summary>The value of row <paramref name="r"/>, column <paramref name="c"/> (the embedding's lookup, tests).</summary>
    public float Value(int r, int c)
    {
        int g = r / GroupRows, lane = r % GroupRows, b = c / Block, k = c % Block;
        ReadOnlySpan<byte> tile = Quants.AsSpan((int)(((long)g * Blocks + b) * BlockBytes), BlockBytes);
        (int at, int shift) = Place(lane, k);
        int u = (tile[at] >> shift) & (Format == WeightFormat.Q8 ? 255 : 15);
        int s = (g * (Blocks / BlocksPerScale) + b / BlocksPerScale) * GroupRows + lane;
        return (u - (Zeros.Length > 0 ? (float)Zeros[s] : ConstantZero)) * (float)Scales[s];
    }

    /// <summary>
    /// dots[t * 8 + j] = row 8 <paramref name="group"/> + j dotted with <paramref name="xs"/>[t], for up to
    /// <see cref="TileTokens"/> tokens (rows past the matrix give 0).
    /// </summary>
    public void Dot(int group, ReadOnlySpan<Int8Activation> xs, Span<float> dots, HostKernelPath path)
    {
        int n = xs.Length;
        if (n < 1 || n > TileTokens || dots.Length < n * GroupRows || (uint)group >= (uint)Groups)
        {
            throw new ArgumentException($"{n} tokens (1 to {TileTokens}) of group {group} of {Groups} into {dots.Length} dots");
        }

        foreach (Int8Activation x in xs)
        {
            if (x.Length != Cols)
            {
                throw new ArgumentException($"an activation of {x.Length} values for {Cols} columns");
            }
        }

        if (path == HostKernelPath.Avx512 && Format != WeightFormat.Q8)
        {
            Wide(group, xs, dots);
            return;
        }

        // Q8 on the 512-bit path: its 256-bit products (below), VNNI where there is VNNI.
        path = path == HostKernelPath.Avx512 ? (AvxVnni.IsSupported ? HostKernelPath.Vnni : HostKernelPath.Avx2) : path;
        for (int t0 = 0; t0 < n; t0 += NarrowTokens)
        {
            int count = Math.Min(NarrowTokens, n - t0);
            ReadOnlySpan<Int8Activation> part = xs.Slice(t0, count);
            Span<float> into = dots[(t0 * GroupRows)..];
            switch (path, Format == WeightFormat.Q8)
            {
                case (HostKernelPath.Vnni, true):
                    ByTokens<VnniBytes>(group, part, into);
                    break;
                case (HostKernelPath.Vnni, false):
                    ByTokens<VnniNibbles>(group, part, into);
                    break;
                case (HostKernelPath.Avx2, true):
                    ByTokens<Avx2Bytes>(group, part, into);
                    break;
                case (HostKernelPath.Avx2, false):
                    ByTokens<Avx2Nibbles>(group, part, into);
                    break;
                default:
                    Scalar(group, part, into);
                    break;
            }
        }
    }

    // The 512-bit kernel (AVX-512BW), Q4 and Q4Z: a pair's two registers of a block are one 512-bit register covering
    // the group's 16 rows (lane r: row r's 4 bytes), split into its low and high nibbles. Nibble times q pairs by
    // vpmaddubsw into int16 lanes (|pair| <= 2 * 15 * 127), a block's 8 products summed in int16 (|sum| <= 30480: no
    // saturation), then one vpmaddwd with ones gives the 16 rows' int32 sums: 1.1 instructions per 64 multiply-adds
    // against 256-bit VNNI's 2. The 8 decoded registers stay in registers for the tile's tokens; each token's 16 float
    // sums are one register in acc.
    private void Wide(int group, ReadOnlySpan<Int8Activation> xs, Span<float> dots)
    {
        int n = xs.Length, scaleShift = System.Numerics.BitOperations.Log2((uint)BlocksPerScale);
        Span<Vector512<float>> acc = stackalloc Vector512<float>[TileTokens];
        acc.Clear();
        ref byte w = ref Quants[(long)group * Blocks * BlockBytes];
        ref ushort scales0 = ref Unsafe.As<Half, ushort>(ref Scales[group * (Blocks >> scaleShift) * GroupRows]);
        ref ushort zeros0 = ref Zeros.Length > 0 ? ref Unsafe.As<Half, ushort>(ref Zeros[group * (Blocks >> scaleShift) * GroupRows]) : ref scales0;
        bool zeroPoints = Zeros.Length > 0;
        Vector512<byte> mask = Vector512.Create((byte)0x0F);
        Vector512<short> ones = Vector512.Create((short)1);
        Vector512<float> constantZero = Vector512.Create((float)ConstantZero);
        for (int b = 0; b < Blocks; b++)
        {
            ref byte tile = ref Unsafe.Add(ref w, b * BlockBytes);
            Ahead(ref tile, BlockBytes);
            Ahead(ref Unsafe.As<ushort, byte>(ref Unsafe.Add(ref scales0, (b >> scaleShift) * GroupRows)), 32);

            Vector512<byte> p0 = Vector512.LoadUnsafe(ref tile), p1 = Vector512.LoadUnsafe(ref tile, 64);
            Vector512<byte> p2 = Vector512.LoadUnsafe(ref tile, 128), p3 = Vector512.LoadUnsafe(ref tile, 192);
            Vector512<byte> l0 = p0 & mask, h0 = Vector512.ShiftRightLogical(p0.AsUInt16(), 4).AsByte() & mask;
            Vector512<byte> l1 = p1 & mask, h1 = Vector512.ShiftRightLogical(p1.AsUInt16(), 4).AsByte() & mask;
            Vector512<byte> l2 = p2 & mask, h2 = Vector512.ShiftRightLogical(p2.AsUInt16(), 4).AsByte() & mask;
            Vector512<byte> l3 = p3 & mask, h3 = Vector512.ShiftRightLogical(p3.AsUInt16(), 4).AsByte() & mask;
            int s = (b >> scaleShift) * GroupRows;
            Vector512<float> scales = HostVectors.WidenFinite(Avx512F.ConvertToVector512UInt32(Vector256.LoadUnsafe(ref scales0, (nuint)s)));
            Vector512<float> zeros = zeroPoints ? HostVectors.WidenFinite(Avx512F.ConvertToVector512UInt32(Vector256.LoadUnsafe(ref zeros0, (nuint)s))) : constantZero;
            for (int t = 0; t < n; t++)
            {
                Int8Activation x = xs[t];
                ref sbyte q = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x.Q), b * Block);
                Vector512<short> sum =
                    (Avx512BW.MultiplyAddAdjacent(l0, Broadcast512(ref q, 0)) + Avx512BW.MultiplyAddAdjacent(h0, Broadcast512(ref q, 4)))
                    + (Avx512BW.MultiplyAddAdjacent(l1, Broadcast512(ref q, 8)) + Avx512BW.MultiplyAddAdjacent(h1, Broadcast512(ref q, 12)))
                    + ((Avx512BW.MultiplyAddAdjacent(l2, Broadcast512(ref q, 16)) + Avx512BW.MultiplyAddAdjacent(h2, Broadcast512(ref q, 20)))
                    + (Avx512BW.MultiplyAddAdjacent(l3, Broadcast512(ref q, 24)) + Avx512BW.MultiplyAddAdjacent(h3, Broadcast512(ref q, 28))));
                Vector512<int> rows = Avx512BW.MultiplyAddAdjacent(sum, ones);
                float zeroSum = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x.ZeroSums), b);
                float scale = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x.Scales), b);
                Vector512<float> exact = Vector512.FusedMultiplyAdd(-zeros, Vector512.Create(zeroSum), Vector512.ConvertToSingle(rows));
                acc[t] = Vector512.FusedMultiplyAdd(exact, scales * Vector512.Create(scale), acc[t]);
            }
        }

        for (int t = 0; t < n; t++)
        {
            acc[t].StoreUnsafe(ref MemoryMarshal.GetReference(dots), (nuint)(t * GroupRows));
        }
    }

    // A group's 16 f16 values at s, as two halves of 8 f32.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Floats Widen(ref ushort at, int s) =>
        new(HostVectors.WidenFinite(Avx2.ConvertToVector256Int32(Vector128.LoadUnsafe(ref at, (nuint)s)).AsUInt32()),
            HostVectors.WidenFinite(Avx2.ConvertToVector256Int32(Vector128.LoadUnsafe(ref at, (nuint)(s + HalfRows))).AsUInt32()));

    // Asks for the cache lines PrefetchDistance bytes past a block's quants (or its scales' line). A one-token product
    // streams its weights once, and left to the hardware prefetcher it read them at ~50% of the host's read bandwidth;
    // asked ahead, at ~65% (1-layer A13B decode 49 -> 66 tok/s, Zen 5, medians of 3). Only a hint: an address past the
    // matrix, or one the collector has since moved, is not an error.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Ahead(ref byte at, int bytes)
    {
        byte* ahead = (byte*)Unsafe.AsPointer(ref at) + PrefetchDistance;
        for (int o = 0; o < bytes; o += 64)
        {
            Sse.Prefetch0(ahead + o);
        }
    }

    // A token's 4 values at q + o, in every lane of a 512-bit register.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<sbyte> Broadcast512(ref sbyte q, int o) =>
        Vector512.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref q, o)))).AsSByte();

    // One body per kernel and token count: the JIT specialises each (struct type arguments), so the kernel's choices
    // and the token count are constants in the loop, not branches.
    private void ByTokens<TKernel>(int group, ReadOnlySpan<Int8Activation> xs, Span<float> dots)
        where TKernel : struct, IKernel
    {
        switch (xs.Length)
        {
            case 1:
                Vector<TKernel, One>(group, xs, dots);
                break;
            case 2:
                Vector<TKernel, Two>(group, xs, dots);
                break;
            case 3:
                Vector<TKernel, Three>(group, xs, dots);
                break;
            default:
                Vector<TKernel, Four>(group, xs, dots);
                break;
        }
    }

    private void Scalar(int group, ReadOnlySpan<Int8Activation> xs, Span<float> dots)
    {
        int scaleGroups = Blocks / BlocksPerScale;
        for (int t = 0; t < xs.Length; t++)
        {
            Int8Activation x = xs[t];
            for (int lane = 0; lane < GroupRows; lane++)
            {
                float total = 0;
                for (int b = 0; b < Blocks; b++)
                {
                    ReadOnlySpan<byte> tile = Quants.AsSpan((int)(((long)group * Blocks + b) * BlockBytes), BlockBytes);
                    int dot = 0;
                    for (int k = 0; k < Block; k++)
                    {
                        (int at, int shift) = Place(lane, k);
                        int u = (tile[at] >> shift) & (Format == WeightFormat.Q8 ? 255 : 15);
                        dot += u * x.Q[b * Block + k];
                    }

                    int s = (group * scaleGroups + b / BlocksPerScale) * GroupRows + lane;
                    float z = Zeros.Length > 0 ? (float)Zeros[s] : ConstantZero;
                    total += (dot - z * x.Sums[b]) * ((float)Scales[s] * x.Scales[b]);
                }

                dots[t * GroupRows + lane] = total;
            }
        }
    }

    // The 256-bit kernel: per block, each register of 8 rows' 4 values against each token's 4 values broadcast (one
    // broadcast for both halves of the group), the integer sums exact in int32 lanes (one per row); then per token and
    // half the lanes less z times the block's sum of q, to f32, times the rows' scales times the token's block scale.
    private void Vector<TKernel, TTokens>(int group, ReadOnlySpan<Int8Activation> xs, Span<float> dots)
        where TKernel : struct, IKernel
        where TTokens : struct, ITokens
    {
        int n = TTokens.Count, scaleShift = BlocksPerScale == 1 ? 0 : System.Numerics.BitOperations.Log2((uint)BlocksPerScale);
        Floats f0 = default, f1 = default, f2 = default, f3 = default;
        ref byte w = ref Quants[(long)group * Blocks * BlockBytes];
        Int8Activation x0 = xs[0], x1 = xs[n > 1 ? 1 : 0], x2 = xs[n > 2 ? 2 : 0], x3 = xs[n > 3 ? 3 : 0];
        ref sbyte q0 = ref MemoryMarshal.GetArrayDataReference(x0.Q), q1 = ref MemoryMarshal.GetArrayDataReference(x1.Q);
        ref sbyte q2 = ref MemoryMarshal.GetArrayDataReference(x2.Q), q3 = ref MemoryMarshal.GetArrayDataReference(x3.Q);
        ref ushort scales0 = ref Unsafe.As<Half, ushort>(ref Scales[group * (Blocks >> scaleShift) * GroupRows]);
        ref ushort zeros0 = ref Zeros.Length > 0 ? ref Unsafe.As<Half, ushort>(ref Zeros[group * (Blocks >> scaleShift) * GroupRows]) : ref scales0;
        bool zeroPoints = Zeros.Length > 0;
        // Q8 on AVX2 forms w . q itself (no z to take off); elsewhere the values carry z.
        Vector256<float> constantZero = Vector256.Create(TKernel.SignedProducts ? 0f : ConstantZero);
        for (int b = 0; b < Blocks; b++)
        {
            ref byte tile = ref Unsafe.Add(ref w, b * BlockBytes);
            Ahead(ref tile, BlockBytes);
            Ahead(ref Unsafe.As<ushort, byte>(ref Unsafe.Add(ref scales0, (b >> scaleShift) * GroupRows)), 32);
            int at = b * Block;
            Sums s0 = default, s1 = default, s2 = default, s3 = default;
            for (int pair = 0; pair < 4; pair++)
            {
                // Registers 2 pair and 2 pair + 1 of both halves: values 8 pair .. 8 pair + 7 of the group's rows.
                Weights u = TKernel.Load(ref tile, pair);
                int o = at + 8 * pair;
                Token<TKernel, TTokens>(ref s0, u, ref q0, o);
                if (n > 1)
                {
                    Token<TKernel, TTokens>(ref s1, u, ref q1, o);
                }

                if (n > 2)
                {
                    Token<TKernel, TTokens>(ref s2, u, ref q2, o);
                }

                if (n > 3)
                {
                    Token<TKernel, TTokens>(ref s3, u, ref q3, o);
                }
            }

            int s = (b >> scaleShift) * GroupRows;
            Floats scales = Widen(ref scales0, s);
            Floats zeros = zeroPoints ? Widen(ref zeros0, s)
                : new Floats(constantZero, constantZero);
            f0 = Scale<TKernel>(f0, s0, scales, zeros, x0, b);
            if (n > 1)
            {
                f1 = Scale<TKernel>(f1, s1, scales, zeros, x1, b);
            }

            if (n > 2)
            {
                f2 = Scale<TKernel>(f2, s2, scales, zeros, x2, b);
            }

            if (n > 3)
            {
                f3 = Scale<TKernel>(f3, s3, scales, zeros, x3, b);
            }
        }

        ref float d = ref MemoryMarshal.GetReference(dots);
        Store(f0, ref d);
        if (n > 1)
        {
            Store(f1, ref Unsafe.Add(ref d, GroupRows));
        }

        if (n > 2)
        {
            Store(f2, ref Unsafe.Add(ref d, 2 * GroupRows));
        }

        if (n > 3)
        {
            Store(f3, ref Unsafe.Add(ref d, 3 * GroupRows));
        }
    }

    /// <summary>A block's registers for one pair: values 8 pair .. 8 pair + 3 (U) and 8 pair + 4 .. + 7 (V) of the
    /// group's two halves (0: rows 0-7, 1: rows 8-15).</summary>
    private readonly record struct Weights(Vector256<byte> U0, Vector256<byte> U1, Vector256<byte> V0, Vector256<byte> V1);

    /// <summary>A token's integer sums over a block, per half; B apart from A while few tokens leave the multiply-adds
    /// in chains too short to hide their latency.</summary>
    private struct Sums
    {
        public Vector256<int> A0, A1, B0, B1;
    }

    private readonly record struct Floats(Vector256<float> H0, Vector256<float> H1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Token<TKernel, TTokens>(ref Sums s, Weights u, ref sbyte q, int o)
        where TKernel : struct, IKernel
        where TTokens : struct, ITokens
    {
        Vector256<sbyte> xa = Broadcast(ref q, o), xb = Broadcast(ref q, o + 4);
        s.A0 = TKernel.Step(s.A0, u.U0, xa);
        s.A1 = TKernel.Step(s.A1, u.U1, xa);
        if (TTokens.Count <= 2)
        {
            s.B0 = TKernel.Step(s.B0, u.V0, xb);
            s.B1 = TKernel.Step(s.B1, u.V1, xb);
        }
        else
        {
            s.A0 = TKernel.Step(s.A0, u.V0, xb);
            s.A1 = TKernel.Step(s.A1, u.V1, xb);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Floats f, ref float d)
    {
        f.H0.StoreUnsafe(ref d);
        f.H1.StoreUnsafe(ref d, HalfRows);
    }

    // A token's 4 values at o, in every lane.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<sbyte> Broadcast(ref sbyte q, int o) =>
        Vector256.Create(Unsafe.ReadUnaligned<int>(ref Unsafe.As<sbyte, byte>(ref Unsafe.Add(ref q, o)))).AsSByte();

    /// <summary>How one kernel reads a block's registers and multiplies them by a token's values.</summary>
    private interface IKernel
    {
        /// <summary>Whether <see cref="Step"/> forms w . q from signed weights (no z in the sum).</summary>
        static abstract bool SignedProducts { get; }

        /// <summary>The registers of pair <paramref name="pair"/> of a block (unsigned values).</summary>
        static abstract Weights Load(ref byte tile, int pair);

        /// <summary>acc (8 rows) += u (8 rows x 4 values) . x (4 values, broadcast), in the kernel's own lanes.</summary>
        static abstract Vector256<int> Step(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x);

        /// <summary>A block's two sums (A, B) as the 8 rows' int32 sums.</summary>
        static abstract Vector256<int> Finish(Vector256<int> a, Vector256<int> b);
    }

    private interface ITokens
    {
        static abstract int Count { get; }
    }

    private struct One : ITokens
    {
        public static int Count => 1;
    }

    private struct Two : ITokens
    {
        public static int Count => 2;
    }

    private struct Three : ITokens
    {
        public static int Count => 3;
    }

    private struct Four : ITokens
    {
        public static int Count => 4;
    }

    // Q8: registers (k, half) at 32 (2k + half).
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Weights Unpacked(ref byte tile, int pair) =>
        new(Vector256.LoadUnsafe(ref tile, (nuint)(pair * 128)), Vector256.LoadUnsafe(ref tile, (nuint)(pair * 128 + 32)),
            Vector256.LoadUnsafe(ref tile, (nuint)(pair * 128 + 64)), Vector256.LoadUnsafe(ref tile, (nuint)(pair * 128 + 96)));

    // Q4/Q4Z: (pair, half) at 32 (2 pair + half); register 2 pair in the low nibbles, 2 pair + 1 in the high ones.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Weights Nibbles(ref byte tile, int pair)
    {
        Vector256<byte> mask = Vector256.Create((byte)0x0F);
        Vector256<byte> p0 = Vector256.LoadUnsafe(ref tile, (nuint)(pair * 64)), p1 = Vector256.LoadUnsafe(ref tile, (nuint)(pair * 64 + 32));
        return new(p0 & mask, p1 & mask, Vector256.ShiftRightLogical(p0.AsUInt16(), 4).AsByte() & mask, Vector256.ShiftRightLogical(p1.AsUInt16(), 4).AsByte() & mask);
    }

    private struct VnniBytes : IKernel
    {
        public static bool SignedProducts => false;

        public static Weights Load(ref byte tile, int pair) => Unpacked(ref tile, pair);

        public static Vector256<int> Step(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x) => AvxVnni.MultiplyWideningAndAdd(acc, u, x);

        public static Vector256<int> Finish(Vector256<int> a, Vector256<int> b) => a + b;
    }

    private struct VnniNibbles : IKernel
    {
        public static bool SignedProducts => false;

        public static Weights Load(ref byte tile, int pair) => Nibbles(ref tile, pair);

        public static Vector256<int> Step(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x) => AvxVnni.MultiplyWideningAndAdd(acc, u, x);

        public static Vector256<int> Finish(Vector256<int> a, Vector256<int> b) => a + b;
    }

    private struct Avx2Nibbles : IKernel
    {
        public static bool SignedProducts => false;

        public static Weights Load(ref byte tile, int pair) => Nibbles(ref tile, pair);

        // As the 512-bit kernel: pairs of nibble (<= 15) times q (|q| <= 127) by vpmaddubsw, summed in int16 lanes
        // (a block's 8 steps, A's and B's together, reach at most 30480: no saturation), one vpmaddwd per block.
        public static Vector256<int> Step(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x) =>
            (acc.AsInt16() + Avx2.MultiplyAddAdjacent(u, x)).AsInt32();

        public static Vector256<int> Finish(Vector256<int> a, Vector256<int> b) => Avx2.MultiplyAddAdjacent(a.AsInt16() + b.AsInt16(), Vector256.Create((short)1));
    }

    private struct Avx2Bytes : IKernel
    {
        public static bool SignedProducts => true;

        public static Weights Load(ref byte tile, int pair) => Unpacked(ref tile, pair);

        // vpmaddubsw would saturate on u up to 255: |w| times q with w's sign (w = u - 128), so w . q directly.
        public static Vector256<int> Step(Vector256<int> acc, Vector256<byte> u, Vector256<sbyte> x)
        {
            Vector256<sbyte> signed = (u ^ Vector256.Create((byte)0x80)).AsSByte();
            return acc + Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(Avx2.Abs(signed), Avx2.Sign(x, signed)), Vector256.Create((short)1));
        }

        public static Vector256<int> Finish(Vector256<int> a, Vector256<int> b) => a + b;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Floats Scale<TKernel>(Floats acc, Sums sums, Floats scales, Floats zeros, Int8Activation x, int b)
        where TKernel : struct, IKernel
    {
        float sum = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x.ZeroSums), b), scale = Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(x.Scales), b);
        Vector256<float> sumv = Vector256.Create(sum), scalev = Vector256.Create(scale);
        Vector256<float> exact0 = Vector256.FusedMultiplyAdd(-zeros.H0, sumv, Vector256.ConvertToSingle(TKernel.Finish(sums.A0, sums.B0)));
        Vector256<float> exact1 = Vector256.FusedMultiplyAdd(-zeros.H1, sumv, Vector256.ConvertToSingle(TKernel.Finish(sums.A1, sums.B1)));
        return new(Vector256.FusedMultiplyAdd(exact0, scales.H0 * scalev, acc.H0), Vector256.FusedMultiplyAdd(exact1, scales.H1 * scalev, acc.H1));
    }
}

/// <summary>The instruction sets the host products run on: AVX-512BW where the CPU has it (Q4 and Q4Z on 512-bit
/// registers, Q8 on the best 256-bit path), else AVX-VNNI, else AVX2, else scalar.</summary>
internal enum HostKernelPath
{
    Scalar,
    Avx2,
    Vnni,
    Avx512,
}

/// <summary>The fastest <see cref="HostKernelPath"/> this CPU runs.</summary>
internal static class HostKernels
{
    public static HostKernelPath Best { get; } = Avx512BW.IsSupported ? HostKernelPath.Avx512
        : AvxVnni.IsSupported ? HostKernelPath.Vnni : Avx2.IsSupported ? HostKernelPath.Avx2 : HostKernelPath.Scalar;

    /// <summary>Whether this CPU runs <paramref name="path"/>.</summary>
    public static bool Runs(HostKernelPath path) => path switch
    {
        HostKernelPath.Avx512 => Avx512BW.IsSupported,
        HostKernelPath.Vnni => AvxVnni.IsSupported,
        HostKernelPath.Avx2 => Avx2.IsSupported,
        _ => true,
    };
}
