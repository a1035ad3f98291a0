using System.Collections.Concurrent;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Kernels;

/// <summary>The SPIR-V of every shader, compiled from shaders/*.comp at build time and embedded in this assembly.</summary>
internal static partial class ShaderLibrary
{
    private static readonly ConcurrentDictionary<ShaderId, ReadOnlyMemory<byte>> s_cache = new();
    // Lazy: s_fileNames is initialised in the generated part, whose static initialisers may run after this file's.
    private static readonly Lazy<Dictionary<string, ShaderId>> s_ids = new(() => s_fileNames.Select((name, i) => (name, (ShaderId)i)).ToDictionary(p => p.name, p => p.Item2));

    /// <summary>The shader's file name without extension, e.g. <c>rms_norm</c>.</summary>
    public static string FileName(ShaderId id) => s_fileNames[(int)id];

    /// <summary>The shader named <paramref name="fileName"/> (without extension); one the build did not make is an error.</summary>
    public static ShaderId Find(string fileName) =>
        s_ids.Value.TryGetValue(fileName, out ShaderId id) ? id : throw new KeyNotFoundException($"There is no shader '{fileName}' (shaders/*.comp, shaders/variants.txt)");

    /// <summary>The variant of <paramref name="kernel"/> (a name of shaders/variants.txt) for <paramref name="format"/>.</summary>
    public static ShaderId For(string kernel, WeightFormat format) => Find($"{kernel}_{format.Spec().Name}");

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
