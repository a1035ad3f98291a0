using Silk.NET.Vulkan;

namespace Hunyuan.Vk.Vulkan;

/// <summary>Element formats of texel-buffer views. Each has mandatory uniform-texel-buffer support in Vulkan.</summary>
public enum TexelFormat
{
    /// <summary>uint per texel (4 bytes).</summary>
    R32Uint,

    /// <summary>uvec4 per texel (16 bytes): the wide load for packed weights.</summary>
    Rgba32Uint,

    /// <summary>f16 read as float (2 bytes): per-group scales.</summary>
    R16Float,

    /// <summary>float per texel (4 bytes).</summary>
    R32Float,

    /// <summary>vec4 per texel (16 bytes).</summary>
    Rgba32Float,

    /// <summary>uint8 read as uint (1 byte): Q4Z zero points.</summary>
    R8Uint,
}

/// <summary>
/// A typed view of part of a buffer, bound as a uniform texel buffer. Weights are read through these: one view can
/// span maxTexelBufferElements texels (128 M on lavapipe and most GPUs: 2 GiB of uvec4), far beyond the 128 MiB
/// storage-buffer range some devices have, and lavapipe turns texelFetch into its fast vector loads. Owned and
/// disposed by its buffer.
/// </summary>
public sealed unsafe class TexelView
{
    internal TexelView(GpuBuffer buffer, BufferView handle, TexelFormat format, ulong offset, ulong bytes)
    {
        Buffer = buffer;
        Handle = handle;
        Format = format;
        Offset = offset;
        Bytes = bytes;
    }

    public GpuBuffer Buffer { get; }
    internal BufferView Handle { get; }
    public TexelFormat Format { get; }
    public ulong Offset { get; }
    public ulong Bytes { get; }
    public ulong Texels => Bytes / (ulong)TexelBytes(Format);

    public static int TexelBytes(TexelFormat format) => format switch
    {
        TexelFormat.Rgba32Uint or TexelFormat.Rgba32Float => 16,
        TexelFormat.R16Float => 2,
        TexelFormat.R8Uint => 1,
        _ => 4,
    };

    internal static Format ToVk(TexelFormat format) => format switch
    {
        TexelFormat.R32Uint => Silk.NET.Vulkan.Format.R32Uint,
        TexelFormat.Rgba32Uint => Silk.NET.Vulkan.Format.R32G32B32A32Uint,
        TexelFormat.R16Float => Silk.NET.Vulkan.Format.R16Sfloat,
        TexelFormat.R32Float => Silk.NET.Vulkan.Format.R32Sfloat,
        TexelFormat.Rgba32Float => Silk.NET.Vulkan.Format.R32G32B32A32Sfloat,
        _ => Silk.NET.Vulkan.Format.R8Uint,
    };

    public override string ToString() => $"{Buffer.Name}[{Offset}..{Offset + Bytes}] as {Format}";
}
