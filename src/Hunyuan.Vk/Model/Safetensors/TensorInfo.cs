namespace Hunyuan.Vk.Model.Safetensors;

/// <summary>One tensor of a safetensors file: where its bytes are and what they hold.</summary>
public sealed record TensorInfo(string Name, DType Type, long[] Shape, SafetensorsFile File, long Offset, long Length)
{
    public long Elements => Shape.Aggregate(1L, (a, d) => a * d);

    public string ShapeText => "[" + string.Join(", ", Shape) + "]";

    /// <summary>Copies the raw bytes from <paramref name="byteOffset"/> into <paramref name="destination"/>.</summary>
    public void ReadBytes(Span<byte> destination, long byteOffset = 0)
    {
        if (byteOffset < 0 || byteOffset + destination.Length > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(byteOffset), $"Bytes {byteOffset}..{byteOffset + destination.Length} are outside tensor '{Name}' ({Length} bytes)");
        }

        File.Read(Offset + byteOffset, destination);
    }

    public byte[] ReadAllBytes()
    {
        var bytes = new byte[Length];
        ReadBytes(bytes);
        return bytes;
    }
}
