using Hunyuan.Vk.Model.Safetensors;

namespace Hunyuan.Vk.Model;

/// <summary>
/// A model directory opened and checked: config.json, generation_config.json and every tensor the config implies, each
/// present with an allowed dtype and the right shape. Linears are read as they are stored (dense, GPTQ-Int4, FP8). A
/// missing, misshapen or mistyped tensor fails here with one message naming it.
/// </summary>
public sealed class ModelWeights : IDisposable
{
    private static readonly DType[] s_floatTypes = [DType.BF16, DType.F16, DType.F32];
    private readonly Dictionary<string, StoredTensor> _tensors = new(StringComparer.Ordinal);

    private ModelWeights(string directory, HunyuanConfig config, GenerationConfig generation, Checkpoint checkpoint)
    {
        Directory = directory;
        Config = config;
        Generation = generation;
        Checkpoint = checkpoint;
    }

    public string Directory { get; }
    public HunyuanConfig Config { get; }
    public GenerationConfig Generation { get; }
    public Checkpoint Checkpoint { get; }
    public IReadOnlyDictionary<string, StoredTensor> Tensors => _tensors;

    public StoredTensor this[string name] => _tensors.TryGetValue(name, out StoredTensor? t)
        ? t
        : throw new ModelFormatException($"{Directory}: the model has no tensor '{name}'");

    /// <summary>The output projection: lm_head.weight when untied, else the embedding.</summary>
    public StoredTensor LmHead => Config.TieWordEmbeddings ? this[ModelLayout.Embedding] : this[ModelLayout.LmHead];

    /// <summary>Throws unless <paramref name="directory"/> is a directory: a file or a missing path each say which.</summary>
    public static void CheckDirectory(string directory)
    {
        if (File.Exists(directory))
        {
            throw new ModelFormatException($"{directory}: a file, not a model directory (a model directory holds config.json and *.safetensors)");
        }

        if (!System.IO.Directory.Exists(directory))
        {
            throw new ModelFormatException($"{directory}: model directory not found");
        }
    }

    public static ModelWeights Open(string directory)
    {
        CheckDirectory(directory);

        HunyuanConfig config = HunyuanConfig.Load(directory);
        GenerationConfig generation = GenerationConfig.Load(directory);
        Checkpoint checkpoint = Checkpoint.Open(directory);
        var weights = new ModelWeights(directory, config, generation, checkpoint);
        try
        {
            foreach (TensorSpec spec in ModelLayout.Tensors(config))
            {
                // An untied config without lm_head.weight is a checkpoint missing its head, not one to tie quietly.
                if (spec.Role == TensorRole.LmHead && !checkpoint.Contains(spec.Name))
                {
                    throw new ModelFormatException(
                        $"{directory}: config.json has tie_word_embeddings false, but the checkpoint has no {spec.Name} (set it true to use the embedding as the head, or add the head)");
                }

                weights._tensors[spec.Name] = weights.Resolve(spec);
            }

            return weights;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    private StoredTensor Resolve(TensorSpec spec)
    {
        if (spec.Role != TensorRole.Linear)
        {
            return new DenseTensor(spec, Require(spec.Name, spec.Shape, s_floatTypes, spec));
        }

        if (Checkpoint.Contains(spec.Name + ".qweight"))
        {
            return ResolveGptq(spec);
        }

        TensorInfo weight = Require(spec.Name + ".weight", spec.Shape, [.. s_floatTypes, DType.F8E4M3], spec);
        if (weight.Type != DType.F8E4M3)
        {
            return new DenseTensor(spec, weight);
        }

        TensorInfo scale = Require(spec.Name + ".weight_scale", null, [DType.F32, DType.BF16, DType.F16], spec);
        if (scale.Elements != 1)
        {
            throw Error(scale, $"has shape {scale.ShapeText}; a per-tensor FP8 scale is one value (per-channel FP8 is not supported)");
        }

        return new Fp8Tensor(spec, weight, scale);
    }

    private GptqTensor ResolveGptq(TensorSpec spec)
    {
        long outDim = spec.Shape[0], inDim = spec.Shape[1];
        QuantizationConfig q = Config.Quantization;
        int group = q.Format == CheckpointFormat.GptqInt4 ? q.GroupSize : 128;
        if (inDim % group != 0 || inDim % 8 != 0 || outDim % 8 != 0)
        {
            throw new ModelFormatException(
                $"{Directory}: '{spec.Name}' {spec.ShapeText} cannot be GPTQ int4 with group {group}: in must divide by the group and 8, out by 8");
        }

        TensorInfo qweight = Require(spec.Name + ".qweight", [inDim / 8, outDim], [DType.I32], spec);
        TensorInfo qzeros = Require(spec.Name + ".qzeros", [inDim / group, outDim / 8], [DType.I32], spec);
        TensorInfo scales = Require(spec.Name + ".scales", [inDim / group, outDim], s_floatTypes, spec);
        TensorInfo? gIdx = Checkpoint.Contains(spec.Name + ".g_idx") ? Require(spec.Name + ".g_idx", [inDim], [DType.I32], spec) : null;
        return new GptqTensor(spec, qweight, qzeros, scales, gIdx, group);
    }

    private TensorInfo Require(string name, long[]? shape, DType[] types, TensorSpec spec)
    {
        if (!Checkpoint.Tensors.TryGetValue(name, out TensorInfo? t))
        {
            throw new ModelFormatException(
                $"{Directory}: tensor '{name}' is missing from the checkpoint (config.json implies it: {spec.Role} {spec.ShapeText})");
        }

        if (!types.Contains(t.Type))
        {
            throw Error(t, $"has dtype {t.Type.Name()}; a {spec.Role.ToString().ToLowerInvariant()} tensor here must be {string.Join(" or ", types.Select(x => x.Name()))}");
        }

        if (shape is not null && !t.Shape.SequenceEqual(shape))
        {
            throw Error(t, $"has shape {t.ShapeText}, but config.json implies [{string.Join(", ", shape)}]");
        }

        return t;
    }

    private static ModelFormatException Error(TensorInfo t, string message) =>
        new($"{Path.GetFileName(t.File.Path)}: tensor '{t.Name}' {message}");

    public void Dispose() => Checkpoint.Dispose();
}
