using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace Hunyuan.Vk.Fuzz;

/// <summary>
/// The safetensors format checked on its own, apart from the loader: an 8-byte little-endian header length, a JSON
/// object header in UTF-8, and tensors ({dtype, shape, data_offsets}) that tile the data section exactly, each as
/// long as its shape and dtype say, no name twice. The fuzzer's judge of what the loader accepts.
/// </summary>
public static class SafetensorsCheck
{
    private static readonly Dictionary<string, int> s_sizes = new(StringComparer.Ordinal)
    {
        ["BF16"] = 2, ["F16"] = 2, ["F32"] = 4, ["F8_E4M3"] = 1, ["I32"] = 4, ["I8"] = 1, ["U8"] = 1,
    };

    /// <summary>Null when <paramref name="file"/> is a valid file of <paramref name="tensors"/> tensors, else what is wrong.</summary>
    public static string? Problem(byte[] file, int tensors)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (file.Length < 8)
        {
            return "shorter than the header length";
        }

        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > (ulong)file.Length - 8)
        {
            return $"header length {headerLength} past the end";
        }

        long dataStart = 8 + (long)headerLength, dataLength = file.Length - dataStart;
        string header;
        try
        {
            header = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(file, 8, (int)headerLength);
        }
        catch (DecoderFallbackException)
        {
            return "header not UTF-8";
        }

        var spans = new List<(long Begin, long End)>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            using JsonDocument doc = JsonDocument.Parse(header);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                return "header not an object";
            }

            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (!names.Add(p.Name))
                {
                    return $"'{p.Name}' twice";
                }

                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object || p.Value.EnumerateObject().Any(m => m.Value.ValueKind != JsonValueKind.String))
                    {
                        return "__metadata__ not an object of strings";
                    }

                    continue;
                }

                JsonElement t = p.Value;
                if (t.ValueKind != JsonValueKind.Object || !t.TryGetProperty("dtype", out JsonElement dtype) || dtype.ValueKind != JsonValueKind.String
                    || !s_sizes.TryGetValue(dtype.GetString()!, out int size)
                    || !t.TryGetProperty("shape", out JsonElement shape) || shape.ValueKind != JsonValueKind.Array
                    || !t.TryGetProperty("data_offsets", out JsonElement offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
                {
                    return $"'{p.Name}' is not {{dtype, shape, data_offsets}}";
                }

                long elements = 1;
                foreach (JsonElement d in shape.EnumerateArray())
                {
                    if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long n) || n < 0 || (n > 0 && elements > long.MaxValue / n))
                    {
                        return $"'{p.Name}': shape {shape.GetRawText()}";
                    }

                    elements *= n;
                }

                if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end) || begin < 0 || end < begin || end > dataLength)
                {
                    return $"'{p.Name}': data_offsets {offsets.GetRawText()} outside the {dataLength} data bytes";
                }

                if (elements > long.MaxValue / size || end - begin != elements * size)
                {
                    return $"'{p.Name}': {end - begin} bytes for {elements} x {size}";
                }

                spans.Add((begin, end));
            }
        }
        catch (JsonException)
        {
            return "header not JSON";
        }

        long at = 0;
        foreach ((long begin, long end) in spans.OrderBy(s => s.Begin).ThenBy(s => s.End))
        {
            if (begin != at)
            {
                return begin < at ? "tensors overlap" : "a hole in the data";
            }

            at = end;
        }

        return at != dataLength ? "bytes after the last tensor"
            : spans.Count != tensors ? $"{spans.Count} tensors in the header, {tensors} loaded"
            : null;
    }
}
