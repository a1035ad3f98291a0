namespace Hunyuan.Vk.Model.Safetensors;

/// <summary>
/// Writes safetensors files, streaming each tensor's bytes from a callback so that no file needs to fit in memory.
/// Each file is written under a temporary name and renamed when complete: a crash never leaves a half-written
/// file under the real name.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>A tensor to write: its bytes come from <paramref name="WriteData"/>, which must write exactly the tensor's size.</summary>
    public sealed record Entry(string Name, DType Type, long[] Shape, Action<Stream> WriteData)
    {
        public long Bytes => Shape.Aggregate(1L, (a, d) => a * d) * Type.Size();
    }

    /// <param name="path">The file to write.</param>
    /// <param name="entries">Its tensors, in file order.</param>
    /// <param name="written">Called after each tensor with the bytes written so far (for progress).</param>
    public static void Write(string path, IReadOnlyList<Entry> entries, Action<long>? written = null)
    {
        ArgumentNullException.ThrowIfNull(entries);
        string temporary = path + ".partial";
        try
        {
            using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                stream.Write(SafetensorsFile.BuildHeader(entries.Select(e => (e.Name, e.Type, e.Shape, e.Bytes))));
                foreach (Entry e in entries)
                {
                    long before = stream.Position;
                    e.WriteData(stream);
                    if (stream.Position - before != e.Bytes)
                    {
                        throw new InvalidOperationException($"Tensor '{e.Name}' wrote {stream.Position - before} bytes; its shape needs {e.Bytes}");
                    }

                    written?.Invoke(stream.Position);
                }
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}
