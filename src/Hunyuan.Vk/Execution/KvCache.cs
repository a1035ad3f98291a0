using System.Globalization;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>How the KV cache stores keys and values.</summary>
public enum KvCacheFormat
{
    /// <summary>f16 values: 2 bytes each (the default).</summary>
    F16,

    /// <summary>int8 values with an f16 scale per block of 32 (max |x| / 127): 1.0625 bytes each, about half of f16.</summary>
    Q8,
}

/// <summary>The KV cache formats' names (<c>--kv f16|q8</c>) and row sizes (shaders/include/kv_cache.glsl).</summary>
public static class KvCacheFormats
{
    /// <summary>The names <see cref="Parse"/> takes.</summary>
    public static IReadOnlyList<string> Names { get; } = ["f16", "q8"];

    public static string Name(this KvCacheFormat format) => format == KvCacheFormat.Q8 ? "q8" : "f16";

    /// <summary>The format named <paramref name="name"/> (f16 or q8), or null.</summary>
    public static KvCacheFormat? Parse(string? name) => name?.ToLowerInvariant() switch
    {
        "f16" => KvCacheFormat.F16,
        "q8" => KvCacheFormat.Q8,
        _ => null,
    };

    /// <summary>Bytes one position takes in one layer's K (or V): kv heads x head rows of the format.</summary>
    public static long BytesPerPosition(this KvCacheFormat format, int kvHeads, int headDim) =>
        (long)kvHeads * (format == KvCacheFormat.Q8 ? headDim + 4L * ScaleWords(headDim) : 2L * headDim);

    /// <summary>Scale words (two f16 each) of an int8 head row: one scale per block of 32 values.</summary>
    internal static int ScaleWords(int headDim) => (headDim / 32 + 1) / 2;

    /// <summary>Throws unless the kernels can store a head of <paramref name="headDim"/> in <paramref name="format"/>:
    /// at most 256 values, a multiple of 8 (16-byte rows), of 32 for int8 (whole blocks).</summary>
    public static void CheckHeadDim(this KvCacheFormat format, int headDim)
    {
        int multiple = format == KvCacheFormat.Q8 ? 32 : 8;
        if (headDim > 256 || headDim % multiple != 0)
        {
            throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                $"head_dim {headDim}: the {format.Name()} KV cache takes head dimensions up to 256 in multiples of {multiple}"));
        }
    }
}

/// <summary>One layer's K and V: pages of <see cref="PagePositions"/> positions (the last may hold fewer), each its own
/// buffer within one binding's range, written as a storage buffer and read through texel views, K as uints and V as
/// uvec4s (lavapipe's fast loads; GPUs read texel buffers as fast as storage). Page p holds positions p x <see cref="PagePositions"/> onwards.</summary>
internal sealed class KvLayer
{
    public KvLayer(KvCacheFormat format, uint pagePositions, GpuBuffer[] k, GpuBuffer[] v, uint[] rows)
    {
        Format = format;
        PagePositions = pagePositions;
        K = k;
        V = v;
        Rows = rows;
        KTexels = [.. k.Select(b => b.View(TexelFormat.R32Uint))];
        VTexels = [.. v.Select(b => b.View(TexelFormat.Rgba32Uint))];
    }

    public KvCacheFormat Format { get; }
    public uint PagePositions { get; }
    public int Pages => K.Length;
    public GpuBuffer[] K { get; }
    public GpuBuffer[] V { get; }
    public TexelView[] KTexels { get; }
    public TexelView[] VTexels { get; }

    /// <summary>Positions each page holds.</summary>
    public uint[] Rows { get; }

    /// <summary>Bytes of a page of <paramref name="rows"/> positions: whole uvec4 texels.</summary>
    public static ulong PageBytes(ulong rows, ulong bytesPerPosition) => (rows * bytesPerPosition + 15) / 16 * 16;
}

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

    /// <summary>A cache of <paramref name="maxPositions"/> positions for <paramref name="layers"/> layers in
    /// <paramref name="format"/>, in pages of at most <paramref name="pagePositions"/> positions (0: as many as the device
    /// binds at once; smaller pages let tests cross page boundaries with a small model).</summary>
    public KvCache(GpuContext context, int layers, AttentionShape shape, int maxPositions, KvCacheFormat format, int pagePositions = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPositions, 1);
        format.CheckHeadDim(shape.HeadDim);
        Format = format;
        BytesPerPosition = (ulong)format.BytesPerPosition(shape.KvHeads, shape.HeadDim);
        PagePositions = (uint)Math.Min(PageLimit(context.Info, BytesPerPosition), (ulong)(pagePositions > 0 ? pagePositions : maxPositions));
        MaxPositions = maxPositions;
        int pages = (int)((maxPositions + PagePositions - 1) / PagePositions);
        try
        {
            _layers = new KvLayer[layers];
            for (int l = 0; l < layers; l++)
            {
                var k = new GpuBuffer[pages];
                var v = new GpuBuffer[pages];
                var rows = new uint[pages];
                for (int p = 0; p < pages; p++)
                {
                    rows[p] = (uint)Math.Min(PagePositions, (ulong)maxPositions - (ulong)p * PagePositions);
                    ulong bytes = KvLayer.PageBytes(rows[p], BytesPerPosition);
                    string page = pages > 1 ? $" page {p}" : string.Empty;
                    k[p] = _owned.Add(context.CreateBuffer(bytes, $"layer {l} k cache{page}"));
                    v[p] = _owned.Add(context.CreateBuffer(bytes, $"layer {l} v cache{page}"));
                }

                _layers[l] = new KvLayer(format, PagePositions, k, v, rows);
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
