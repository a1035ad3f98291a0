using Hunyuan.Vk.Model.Safetensors;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>
/// A copy of a generated bf16 model in its own temporary folder with one tensor's every value replaced, deleted on
/// dispose: for weights that load (finite) yet overflow the activations, e.g. bf16's largest value 0x7F7F (3.39e38).
/// </summary>
public sealed class PatchedModel : IDisposable
{
    public PatchedModel(string source, string tensor, ushort bf16Bits)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("hyvk-patched-").FullName;
        foreach (string f in System.IO.Directory.GetFiles(source))
        {
            File.Copy(f, Path.Combine(Directory, Path.GetFileName(f)));
        }

        string file = Path.Combine(Directory, "model.safetensors");
        long offset, count;
        using (var st = SafetensorsFile.Open(file))
        {
            var t = st.Tensors[tensor];
            (offset, count) = (t.Offset, t.Elements);
        }

        byte[] bits = BitConverter.GetBytes(bf16Bits);
        using var s = new FileStream(file, FileMode.Open);
        s.Position = offset;
        for (long i = 0; i < count; i++)
        {
            s.Write(bits);
        }
    }

    /// <summary>bf16's largest finite value, 3.39e38.</summary>
    public const ushort Bf16Max = 0x7F7F;

    public string Directory { get; }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
