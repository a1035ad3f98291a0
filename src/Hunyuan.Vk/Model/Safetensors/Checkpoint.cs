using System.Text.Json;

namespace Hunyuan.Vk.Model.Safetensors;

/// <summary>
/// All safetensors files of a model directory: <c>model.safetensors</c>, or the shards named by
/// <c>model.safetensors.index.json</c>. Tensors are looked up by name across shards.
/// </summary>
public sealed class Checkpoint : IDisposable
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";
    private readonly List<SafetensorsFile> _files = [];
    private readonly Dictionary<string, TensorInfo> _tensors = new(StringComparer.Ordinal);

    public string Directory { get; }
    public IReadOnlyList<SafetensorsFile> Files => _files;
    public IReadOnlyDictionary<string, TensorInfo> Tensors => _tensors;

    private Checkpoint(string directory) => Directory = directory;

    public static Checkpoint Open(string directory)
    {
        var checkpoint = new Checkpoint(directory);
        try
        {
            foreach (string file in ShardFiles(directory))
            {
                SafetensorsFile st = SafetensorsFile.Open(file);
                checkpoint._files.Add(st);
                foreach (TensorInfo t in st.Tensors.Values)
                {
                    if (!checkpoint._tensors.TryAdd(t.Name, t))
                    {
                        throw new ModelFormatException(
                            $"{Path.GetFileName(file)}: tensor '{t.Name}' is also in {Path.GetFileName(checkpoint._tensors[t.Name].File.Path)}");
                    }
                }
            }

            checkpoint.CheckIndex();
            return checkpoint;
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    public TensorInfo this[string name] => _tensors.TryGetValue(name, out TensorInfo? t)
        ? t
        : throw new ModelFormatException($"{Directory}: tensor '{name}' is missing from the checkpoint");

    /// <summary>Total bytes of tensor data.</summary>
    public long DataBytes => _tensors.Values.Sum(t => t.Length);

    private static string[] ShardFiles(string directory)
    {
        string index = Path.Combine(directory, IndexFile);
        if (File.Exists(index))
        {
            return ReadIndex(index).Values.Distinct().Order(StringComparer.Ordinal).Select(f => Path.Combine(directory, f)).ToArray();
        }

        string single = Path.Combine(directory, SingleFile);
        if (File.Exists(single))
        {
            return [single];
        }

        string[] any = System.IO.Directory.Exists(directory) ? System.IO.Directory.GetFiles(directory, "*.safetensors") : [];
        return any.Length > 0
            ? throw new ModelFormatException($"{directory}: {any.Length} .safetensors files but no {IndexFile} naming them")
            : throw new ModelFormatException($"{directory}: no {SingleFile} and no {IndexFile}");
    }

    /// <summary>tensor name -> shard file name, from model.safetensors.index.json.</summary>
    public static Dictionary<string, string> ReadIndex(string path)
    {
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            var map = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonProperty p in doc.RootElement.GetProperty("weight_map").EnumerateObject())
            {
                string file = p.Value.GetString() ?? string.Empty;
                if (file.Length == 0 || file is "." or ".." || file.IndexOfAny(['/', '\\', '\0']) >= 0)
                {
                    throw new ModelFormatException($"{path}: weight_map names '{file}' for '{p.Name}', not a file name");
                }

                if (!map.TryAdd(p.Name, file))
                {
                    throw new ModelFormatException($"{path}: weight_map lists '{p.Name}' twice");
                }
            }

            return map;
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new ModelFormatException($"{path}: not a valid index ({e.Message})", e);
        }
    }

    private void CheckIndex()
    {
        string index = Path.Combine(Directory, IndexFile);
        if (!File.Exists(index))
        {
            return;
        }

        foreach ((string tensor, string file) in ReadIndex(index))
        {
            if (!_tensors.TryGetValue(tensor, out TensorInfo? t))
            {
                throw new ModelFormatException($"{file}: tensor '{tensor}' is listed in {IndexFile} but missing from the file");
            }

            if (Path.GetFileName(t.File.Path) != file)
            {
                throw new ModelFormatException($"{IndexFile}: '{tensor}' is listed in {file} but found in {Path.GetFileName(t.File.Path)}");
            }
        }
    }

    public void Dispose()
    {
        foreach (SafetensorsFile f in _files)
        {
            f.Dispose();
        }

        _files.Clear();
    }
}
