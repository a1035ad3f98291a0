using System.Globalization;

namespace Hunyuan.Vk.Model.Formats;

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
