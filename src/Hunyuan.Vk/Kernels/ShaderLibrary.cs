using System.Collections.Concurrent;

namespace Hunyuan.Vk.Kernels;

/// <summary>The SPIR-V of every shader, compiled from shaders/*.comp at build time and embedded in this assembly.</summary>
public static partial class ShaderLibrary
{
    private static readonly ConcurrentDictionary<ShaderId, ReadOnlyMemory<byte>> s_cache = new();

    /// <summary>The shader's file name without extension, e.g. <c>rms_norm</c>.</summary>
    public static string FileName(ShaderId id) => s_fileNames[(int)id];

    /// <summary>The SPIR-V words of a shader, as bytes.</summary>
    public static ReadOnlyMemory<byte> Spirv(ShaderId id) => s_cache.GetOrAdd(id, Load);

    private static ReadOnlyMemory<byte> Load(ShaderId id)
    {
        string resource = $"shaders/{FileName(id)}.spv";
        using Stream stream = typeof(ShaderLibrary).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded shader '{resource}' is missing: the build did not compile shaders/{FileName(id)}.comp");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
