using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace Hunyuan.Vk.Model.Safetensors;

/// <summary>
/// One memory-mapped <c>.safetensors</c> file: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the data. Every header entry is checked against the file on open, so a truncated or
/// corrupt file fails here with its name, never later as garbage.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    private const long MaxHeaderBytes = 100L << 20;
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly Dictionary<string, TensorInfo> _tensors = new(StringComparer.Ordinal);

    public string Path { get; }
    public long DataStart { get; }
    public IReadOnlyDictionary<string, TensorInfo> Tensors => _tensors;
    public IReadOnlyDictionary<string, string> Metadata { get; }

    private SafetensorsFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, long dataStart, Dictionary<string, string> metadata)
    {
        Path = path;
        _map = map;
        _view = view;
        DataStart = dataStart;
        Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        string name = System.IO.Path.GetFileName(path);
        var fileInfo = new FileInfo(path);
        if (!fileInfo.Exists)
        {
            throw new ModelFormatException($"{path}: not found");
        }

        long length = fileInfo.Length;
        if (length < 8)
        {
            throw new ModelFormatException($"{name}: {length} bytes is too short for a safetensors file (truncated?)");
        }

        MemoryMappedFile map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        try
        {
            ulong stated = view.ReadUInt64(0);   // unsigned: a length of 2^63 is not a negative number
            if (stated <= 1 || stated > MaxHeaderBytes || stated > (ulong)(length - 8))
            {
                throw new ModelFormatException(
                    $"{name}: header length {stated} does not fit the file of {length} bytes (not a safetensors file, or truncated)");
            }

            long headerLength = (long)stated;
            var header = new byte[headerLength];
            view.SafeMemoryMappedViewHandle.ReadSpan<byte>(8, header);
            var file = new SafetensorsFile(path, map, view, 8 + headerLength, []);
            file.ParseHeader(header, length - 8 - headerLength, name);
            return file;
        }
        catch
        {
            view.Dispose();
            map.Dispose();
            throw;
        }
    }

    private void ParseHeader(byte[] header, long dataLength, string name)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.AsMemory().TrimEnd((byte)' '));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{name}: the header is not valid JSON ({e.Message}): corrupt file", e);
        }

        using (doc)
        {
            try
            {
                ParseEntries(doc.RootElement, dataLength, name);
            }
            catch (InvalidOperationException e)
            {
                // Names and strings are transcoded from UTF-8 as they are read: invalid bytes show here.
                throw new ModelFormatException($"{name}: the header holds text that is not valid UTF-8 ({e.Message}): corrupt file", e);
            }
        }
    }

    private void ParseEntries(JsonElement root, long dataLength, string name)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFormatException($"{name}: the header is not a JSON object: corrupt file");
        }

        var ranges = new List<(long Begin, long End, string Tensor)>();
        foreach (JsonProperty p in root.EnumerateObject())
        {
            if (p.Name == "__metadata__")
            {
                if (p.Value.ValueKind != JsonValueKind.Object)
                {
                    throw new ModelFormatException($"{name}: __metadata__ is a JSON {p.Value.ValueKind.ToString().ToLowerInvariant()}, not an object of strings: corrupt file");
                }

                var metadata = (Dictionary<string, string>)Metadata;
                foreach (JsonProperty m in p.Value.EnumerateObject())
                {
                    metadata[m.Name] = m.Value.ToString();
                }

                continue;
            }

            TensorInfo t = ParseEntry(p, dataLength, name);
            if (!_tensors.TryAdd(t.Name, t))
            {
                throw new ModelFormatException($"{name}: tensor '{t.Name}' is listed twice in the header: corrupt file");
            }

            ranges.Add((t.Offset - DataStart, t.Offset - DataStart + t.Length, t.Name));
        }

        // The data is the tensors end to end: no overlap, no hole, nothing after the last (the safetensors format).
        ranges.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long at = 0;
        string previous = "the header";
        foreach ((long begin, long end, string tensor) in ranges)
        {
            if (begin < at)
            {
                throw new ModelFormatException($"{name}: tensors '{previous}' and '{tensor}' overlap: corrupt file");
            }

            if (begin > at)
            {
                throw new ModelFormatException($"{name}: {begin - at} bytes of data between {(previous == "the header" ? "the header" : $"tensor '{previous}'")} and tensor '{tensor}' belong to no tensor: corrupt file");
            }

            at = end;
            previous = tensor;
        }

        if (at != dataLength)
        {
            throw new ModelFormatException($"{name}: {dataLength - at} bytes after the last tensor's data belong to no tensor: corrupt file (or not a safetensors file)");
        }
    }

    private TensorInfo ParseEntry(JsonProperty p, long dataLength, string file)
    {
        string tensor = p.Name;
        try
        {
            JsonElement e = p.Value;
            string dtypeName = e.GetProperty("dtype").GetString() ?? string.Empty;
            if (!DTypes.TryParse(dtypeName, out DType dtype))
            {
                throw new ModelFormatException($"{file}: tensor '{tensor}': dtype {dtypeName} is not supported (BF16, F16, F32, F8_E4M3, I32, I8, U8 are)");
            }

            long[] shape = e.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            long[] offsets = e.GetProperty("data_offsets").EnumerateArray().Select(d => d.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || shape.Any(d => d < 0))
            {
                throw new ModelFormatException($"{file}: tensor '{tensor}': malformed shape or data_offsets: corrupt file");
            }

            long expected = shape.Aggregate(1L, (a, d) => checked(a * d)) * dtype.Size();
            if (offsets[1] - offsets[0] != expected)
            {
                throw new ModelFormatException(
                    $"{file}: tensor '{tensor}': {offsets[1] - offsets[0]} bytes of data for shape [{string.Join(", ", shape)}] {dtypeName}, which needs {expected}: corrupt file");
            }

            if (offsets[1] > dataLength)
            {
                throw new ModelFormatException(
                    $"{file}: tensor '{tensor}': data ends at byte {offsets[1]} but the file holds {dataLength} bytes of data: truncated file");
            }

            return new TensorInfo(tensor, dtype, shape, this, DataStart + offsets[0], expected);
        }
        catch (Exception ex) when (ex is KeyNotFoundException or InvalidOperationException or FormatException or OverflowException)
        {
            throw new ModelFormatException($"{file}: tensor '{tensor}': malformed header entry ({ex.Message}): corrupt file", ex);
        }
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes of the file at <paramref name="offset"/>.</summary>
    internal void Read(long offset, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_view is null, this);
        _view.SafeMemoryMappedViewHandle.ReadSpan((ulong)offset, destination);
    }

    public void Dispose()
    {
        _view?.Dispose();
        _map?.Dispose();
    }

    /// <summary>Writes a little-endian safetensors header for <paramref name="entries"/> laid out in order; returns its bytes.</summary>
    internal static byte[] BuildHeader(IEnumerable<(string Name, DType Type, long[] Shape, long Bytes)> entries)
    {
        using var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteStartObject("__metadata__");
            w.WriteString("format", "pt");
            w.WriteEndObject();
            long at = 0;
            foreach ((string n, DType t, long[] shape, long bytes) in entries)
            {
                w.WriteStartObject(n);
                w.WriteString("dtype", t.Name());
                w.WriteStartArray("shape");
                foreach (long d in shape)
                {
                    w.WriteNumberValue(d);
                }

                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(at);
                w.WriteNumberValue(at + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                at += bytes;
            }

            w.WriteEndObject();
        }

        int padded = (int)((json.Length + 7) / 8 * 8);
        var result = new byte[8 + padded];
        BinaryPrimitives.WriteInt64LittleEndian(result, padded);
        json.ToArray().CopyTo(result, 8);
        result.AsSpan(8 + (int)json.Length).Fill((byte)' ');
        return result;
    }
}
