using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>
/// The KV cache's layout written out independently of the kernels (shaders/include/kv_cache.glsl): rows [positions,
/// kv heads, d] cut into pages; f16 halves side by side, or int8 values four to a word with the page's scales (one
/// f16 per block of 32: max |x| / 127, round to nearest even) after its rows. Packs values the way the cache holds
/// them, unpacks what a kernel wrote, and says what a packed value stands for.
/// </summary>
public static class KvPages
{
    /// <summary>Packs rows of values into pages; returns the pages' words and the values they stand for.</summary>
    public static (uint[][] Pages, float[] Stored) Pack(float[] rows, KvCacheFormat format, int kvHeads, int d, int pagePositions)
    {
        ArgumentNullException.ThrowIfNull(rows);
        int rowValues = kvHeads * d, positions = rows.Length / rowValues;
        var stored = new float[rows.Length];
        var pages = new List<uint[]>();
        for (int start = 0; start < positions; start += pagePositions)
        {
            int n = Math.Min(pagePositions, positions - start);
            var words = new uint[n * WordsPerPosition(format, kvHeads, d)];
            for (int r = 0; r < n * kvHeads; r++)
            {
                int at = start * rowValues + r * d;
                if (format == KvCacheFormat.F16)
                {
                    for (int w = 0; w < d / 2; w++)
                    {
                        Half a = (Half)rows[at + 2 * w], b = (Half)rows[at + 2 * w + 1];
                        words[r * d / 2 + w] = BitConverter.HalfToUInt16Bits(a) | (uint)BitConverter.HalfToUInt16Bits(b) << 16;
                        stored[at + 2 * w] = (float)a;
                        stored[at + 2 * w + 1] = (float)b;
                    }

                    continue;
                }

                int blocks = d / 32, scaleWords = (blocks + 1) / 2, scaleAt = n * kvHeads * d / 4 + r * scaleWords;
                for (int b = 0; b < blocks; b++)
                {
                    float amax = 0;
                    for (int i = 0; i < 32; i++)
                    {
                        amax = Math.Max(amax, Math.Abs(rows[at + 32 * b + i]));
                    }

                    Half scale = (Half)(amax / 127f);
                    words[scaleAt + b / 2] |= (uint)BitConverter.HalfToUInt16Bits(scale) << (16 * (b % 2));
                    for (int i = 0; i < 32; i++)
                    {
                        int value = (float)scale == 0 ? 0 : (int)Math.Clamp(Math.Round(rows[at + 32 * b + i] / (float)scale, MidpointRounding.ToEven), -127, 127);
                        int v = 32 * b + i;
                        words[r * d / 4 + v / 4] |= (uint)(value & 0xFF) << (8 * (v % 4));
                        stored[at + v] = value * (float)scale;
                    }
                }
            }

            pages.Add(words);
        }

        return ([.. pages], stored);
    }

    /// <summary>The values one page holds (rows of <paramref name="kvHeads"/> x <paramref name="d"/>), and for int8
    /// each value's scale.</summary>
    public static (float[] Values, float[] Scales) Unpack(uint[] words, KvCacheFormat format, int kvHeads, int d)
    {
        ArgumentNullException.ThrowIfNull(words);
        int n = words.Length / WordsPerPosition(format, kvHeads, d);
        var values = new float[n * kvHeads * d];
        var scales = new float[values.Length];
        for (int r = 0; r < n * kvHeads; r++)
        {
            for (int v = 0; v < d; v++)
            {
                if (format == KvCacheFormat.F16)
                {
                    values[r * d + v] = (float)BitConverter.UInt16BitsToHalf((ushort)(words[r * d / 2 + v / 2] >> (16 * (v % 2))));
                    continue;
                }

                int scaleWords = (d / 32 + 1) / 2, b = v / 32;
                float scale = (float)BitConverter.UInt16BitsToHalf((ushort)(words[n * kvHeads * d / 4 + r * scaleWords + b / 2] >> (16 * (b % 2))));
                values[r * d + v] = (sbyte)(byte)(words[r * d / 4 + v / 4] >> (8 * (v % 4))) * scale;
                scales[r * d + v] = scale;
            }
        }

        return (values, scales);
    }

    public static int WordsPerPosition(KvCacheFormat format, int kvHeads, int d) =>
        (int)(format.BytesPerPosition(kvHeads, d) / 4);

    /// <summary>Uploads packed K and V pages as one layer's cache (each page rounded up to whole 16-byte texels).</summary>
    internal static KvLayer Upload(GpuContext context, uint[][] k, uint[][] v, KvCacheFormat format, int pagePositions, int positions, List<GpuBuffer> owned)
    {
        GpuBuffer Make(uint[] words, string name)
        {
            GpuBuffer b = context.CreateBuffer(((ulong)words.Length * 4 + 15) / 16 * 16, name);
            b.Write<uint>(words);
            owned.Add(b);
            return b;
        }

        uint[] rows = [.. Enumerable.Range(0, k.Length).Select(p => (uint)Math.Min(pagePositions, positions - p * pagePositions))];
        return new KvLayer(format, (uint)pagePositions, [.. k.Select((p, i) => Make(p, $"k page {i}"))], [.. v.Select((p, i) => Make(p, $"v page {i}"))], rows);
    }

    /// <summary>Empty pages for <paramref name="positions"/> positions, to be written by a kernel.</summary>
    internal static KvLayer Empty(GpuContext context, int positions, KvCacheFormat format, int kvHeads, int d, int pagePositions, List<GpuBuffer> owned)
    {
        int words = WordsPerPosition(format, kvHeads, d);
        uint[][] pages = [.. Enumerable.Range(0, (positions + pagePositions - 1) / pagePositions).Select(p => new uint[Math.Min(pagePositions, positions - p * pagePositions) * words])];
        return Upload(context, pages, pages, format, pagePositions, positions, owned);
    }

    /// <summary>The words of a page (without the texel rounding at its end).</summary>
    internal static uint[] Read(GpuBuffer page, int count)
    {
        var words = new uint[count];
        page.Read<uint>(words);
        return words;
    }
}
