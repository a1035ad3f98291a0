using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// Each layer's keys and values, [positions, kv_heads, head_dim] in the cache's format (shaders/include/kv_cache.glsl),
/// one buffer per page, layer and kind. A page is as many positions as one storage binding holds (maxStorageBufferRange,
/// within maxBufferSize and maxMemoryAllocationSize), so the context is limited by memory only; where one binding holds
/// the whole context a layer is one page.
/// </summary>
internal sealed class KvCache : IDisposable
{
    private readonly OwnedResources _owned = new();
    private readonly KvLayer[] _layers;
    private readonly int[] _tokens;   // the token at each cached position, so a prompt can reuse what it shares (-1: none)

    /// <summary>A cache of <paramref name="maxPositions"/> positions for <paramref name="layers"/> layers in
    /// <paramref name="format"/>, in pages of at most <paramref name="pagePositions"/> positions (0: as many as the device
    /// binds at once; smaller pages let tests cross page boundaries with a small model).</summary>
    public KvCache(GpuContext context, int layers, AttentionShape shape, int maxPositions, KvCacheFormat format, int pagePositions = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPositions, 1);
        format.CheckHeadDim(shape.HeadDim);
        Format = format;
        BytesPerPosition = (ulong)format.BytesPerPosition(shape.KvHeads, shape.HeadDim);
        PagePositions = PagePositionsFor(context.Info, BytesPerPosition, maxPositions, pagePositions);
        MaxPositions = maxPositions;
        _tokens = new int[maxPositions];
        uint[] pageRows = PageRows(maxPositions, PagePositions);
        int pages = pageRows.Length;
        try
        {
            _layers = new KvLayer[layers];
            for (int l = 0; l < layers; l++)
            {
                var k = new GpuBuffer[pages];
                var v = new GpuBuffer[pages];
                for (int p = 0; p < pages; p++)
                {
                    ulong bytes = KvLayer.PageBytes(pageRows[p], BytesPerPosition);
                    string page = pages > 1 ? $" page {p}" : string.Empty;
                    k[p] = _owned.Add(context.CreateBuffer(bytes, $"layer {l} k cache{page}"));
                    v[p] = _owned.Add(context.CreateBuffer(bytes, $"layer {l} v cache{page}"));
                }

                _layers[l] = new KvLayer(format, PagePositions, k, v, pageRows);
            }
        }
        catch
        {
            _owned.Dispose();
            throw;
        }
    }

    public int MaxPositions { get; }
    public KvCacheFormat Format { get; }

    /// <summary>Bytes of one position in one layer's K (or V).</summary>
    public ulong BytesPerPosition { get; }

    /// <summary>Positions per page (the last page may hold fewer).</summary>
    public uint PagePositions { get; }

    public KvLayer Layer(int layer) => _layers[layer];

    /// <summary>Notes that <paramref name="position"/> holds <paramref name="token"/>'s keys and values.</summary>
    public void Remember(int position, int token) => _tokens[position] = token;

    /// <summary>Notes that <paramref name="count"/> positions from <paramref name="position"/> hold no token's (filled
    /// for a benchmark).</summary>
    public void Forget(int position, int count) => Array.Fill(_tokens, -1, position, count);

    /// <summary>How many of <paramref name="tokens"/>, from the first, the first <paramref name="filled"/> positions hold.</summary>
    public int SharedPrefix(IReadOnlyList<int> tokens, int filled)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int n = 0;
        while (n < filled && n < tokens.Count && _tokens[n] == tokens[n])
        {
            n++;
        }

        return n;
    }

    /// <summary>Positions per page of a cache of <paramref name="maxPositions"/>: as many as one page can hold on
    /// <paramref name="device"/> (null: no device limit, for an estimate made before one is chosen), or
    /// <paramref name="requested"/> when smaller (0: no request).</summary>
    public static uint PagePositionsFor(DeviceInfo? device, ulong bytesPerPosition, int maxPositions, int requested = 0) =>
        (uint)Math.Min(device is null ? ulong.MaxValue : PageLimit(device, bytesPerPosition), (ulong)(requested > 0 ? requested : maxPositions));

    /// <summary>Positions each page holds: full pages, then the rest.</summary>
    public static uint[] PageRows(int maxPositions, uint pagePositions)
    {
        int pages = (int)((maxPositions + pagePositions - 1) / pagePositions);
        return [.. Enumerable.Range(0, pages).Select(p => (uint)Math.Min(pagePositions, (ulong)maxPositions - (ulong)p * pagePositions))];
    }

    /// <summary>Device bytes of a cache of <paramref name="layers"/> layers: K and V, every page in whole texels.</summary>
    public static long Bytes(int layers, int maxPositions, uint pagePositions, ulong bytesPerPosition) =>
        2L * layers * PageRows(maxPositions, pagePositions).Sum(rows => (long)KvLayer.PageBytes(rows, bytesPerPosition));

    /// <summary>Positions one page can hold on <paramref name="device"/>: one storage binding's range, one texel view
    /// (maxTexelBufferElements uint texels), one buffer, one allocation.</summary>
    public static ulong PageLimit(DeviceInfo device, ulong bytesPerPosition)
    {
        ArgumentNullException.ThrowIfNull(device);
        DeviceLimits l = device.Limits;
        static ulong Or(ulong limit) => limit > 0 ? limit : ulong.MaxValue;
        ulong texels = l.MaxTexelBufferElements > 0 ? l.MaxTexelBufferElements * 4 : ulong.MaxValue;
        ulong bytes = Math.Min(Math.Min(l.MaxStorageBufferRange, texels), Math.Min(Or(l.MaxBufferSize), Or(l.MaxMemoryAllocationSize)));
        ulong rows = bytes / bytesPerPosition;
        if (KvLayer.PageBytes(rows, bytesPerPosition) > bytes)
        {
            rows--;   // the page rounded up to whole texels must fit too
        }

        return Math.Min(rows, int.MaxValue);
    }

    /// <summary>Records filling every page with one 32-bit pattern (benchmarks at depth: values do not change speed).</summary>
    public void RecordFill(CommandRecorder r, uint pattern)
    {
        foreach (KvLayer layer in _layers)
        {
            foreach (GpuBuffer b in layer.K.Concat(layer.V))
            {
                r.Fill(b, 0, b.Size, pattern);
            }
        }
    }

    public void Dispose() => _owned.Dispose();
}
