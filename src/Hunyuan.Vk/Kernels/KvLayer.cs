using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

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
