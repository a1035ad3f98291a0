using System.Numerics.Tensors;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// The host executor's KV cache: per layer, K and V of every position in f16, or in int8 with an f16 scale per block
/// of 32 (max |x| / 127, the scale rounded to f16 before it divides, values rounded to nearest even: what the device's
/// int8 cache stores). Laid out [kv head][position][head dim], so attention reads a run of positions of one head as
/// one contiguous span. Allocated whole for the context, uninitialised: the OS commits pages as positions fill.
/// </summary>
internal sealed class HostKvCache
{
    private const int Block = 32;
    private readonly Half[][] _f16;      // [layer * 2 + kv][head][position][d]
    private readonly sbyte[][] _q8;      // the same, int8
    private readonly Half[][] _scales;   // [layer * 2 + kv][head][position][d / 32]

    public HostKvCache(int layers, int kvHeads, int headDim, int positions, KvCacheFormat format)
    {
        format.CheckHeadDim(headDim);
        (Layers, KvHeads, HeadDim, Positions, Format) = (layers, kvHeads, headDim, positions, format);
        long values = (long)kvHeads * positions * headDim;
        if (values > Array.MaxLength)
        {
            throw new ArgumentException($"{positions} positions of {kvHeads} x {headDim} K values exceed one array; shorten the context");
        }

        bool q8 = format == KvCacheFormat.Q8;
        _f16 = [.. Enumerable.Range(0, q8 ? 0 : 2 * layers).Select(_ => GC.AllocateUninitializedArray<Half>((int)values))];
        _q8 = [.. Enumerable.Range(0, q8 ? 2 * layers : 0).Select(_ => GC.AllocateUninitializedArray<sbyte>((int)values))];
        _scales = [.. Enumerable.Range(0, q8 ? 2 * layers : 0).Select(_ => GC.AllocateUninitializedArray<Half>((int)(values / Block)))];
    }

    public int Layers { get; }
    public int KvHeads { get; }
    public int HeadDim { get; }
    public int Positions { get; }
    public KvCacheFormat Format { get; }

    /// <summary>Bytes of the whole cache.</summary>
    public long Bytes => 2L * Layers * Positions * Format.BytesPerPosition(KvHeads, HeadDim);

    /// <summary>Stores one position's K and V ([kv heads][head dim] each) of <paramref name="layer"/>.</summary>
    public void Append(int layer, int position, ReadOnlySpan<float> k, ReadOnlySpan<float> v)
    {
        if ((uint)position >= (uint)Positions)
        {
            throw new ArgumentOutOfRangeException(nameof(position), position, $"the cache holds {Positions} positions");
        }

        Store(2 * layer, position, k);
        Store(2 * layer + 1, position, v);
    }

    /// <summary>Positions <paramref name="first"/> .. + <paramref name="count"/> - 1 of K (<paramref name="values"/>
    /// false) or V of one kv head, as floats [count][head dim].</summary>
    public void Read(int layer, bool values, int head, int first, int count, Span<float> into)
    {
        int d = HeadDim, table = 2 * layer + (values ? 1 : 0);
        long at = ((long)head * Positions + first) * d;
        if (Format == KvCacheFormat.F16)
        {
            HostVectors.ToSingle(_f16[table].AsSpan((int)at, count * d), into[..(count * d)]);
            return;
        }

        ReadOnlySpan<sbyte> q = _q8[table].AsSpan((int)at, count * d);
        ReadOnlySpan<Half> scales = _scales[table].AsSpan((int)(at / Block), count * d / Block);
        for (int b = 0; b < scales.Length; b++)
        {
            Span<float> block = into.Slice(b * Block, Block);
            TensorPrimitives.ConvertTruncating<sbyte, float>(q.Slice(b * Block, Block), block);
            TensorPrimitives.Multiply(block, (float)scales[b], block);
        }
    }

    private void Store(int table, int position, ReadOnlySpan<float> x)
    {
        int d = HeadDim;
        for (int h = 0; h < KvHeads; h++)
        {
            ReadOnlySpan<float> row = x.Slice(h * d, d);
            int at = (h * Positions + position) * d;
            if (Format == KvCacheFormat.F16)
            {
                TensorPrimitives.ConvertToHalf(row, _f16[table].AsSpan(at, d));
                continue;
            }

            for (int b = 0; b < d / Block; b++)
            {
                ReadOnlySpan<float> v = row.Slice(b * Block, Block);
                Half scale = (Half)(MathF.Abs(TensorPrimitives.MaxMagnitude(v)) / 127f);
                float inverse = (float)scale > 0 ? 1f / (float)scale : 0f;
                Span<sbyte> q = _q8[table].AsSpan(at + b * Block, Block);
                for (int i = 0; i < Block; i++)
                {
                    q[i] = (sbyte)Math.Clamp(MathF.Round(v[i] * inverse, MidpointRounding.ToEven), -127f, 127f);
                }

                _scales[table][(at + b * Block) / Block] = scale;
            }
        }
    }
}
