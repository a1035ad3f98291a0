using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Model;

/// <summary>Where the values of a <see cref="WeightPlan"/>'s weights come from: a checkpoint, or a random generator.</summary>
public interface IWeightSource
{
    /// <summary>The f32 values of a vector weight (a norm).</summary>
    float[] Vector(PlannedWeight w);

    /// <summary>Matrix <paramref name="index"/> of the stack <paramref name="w"/> (an expert's number for expert stacks,
    /// the shared expert being number experts; 0 otherwise), in <paramref name="w"/>'s format.</summary>
    QuantizedMatrix Matrix(PlannedWeight w, int index);
}

/// <summary>
/// A checkpoint's tensors made into the plan's layout (docs/model.md, "Tensors"): q, k and v rows concatenated; each
/// expert's gate and up rows interleaved; the router in F32; GPTQ tensors kept as stored when the format is GPTQ's.
/// Rows are stored independently in every format, so concatenating and interleaving are exact.
/// </summary>
public sealed class CheckpointWeightSource(ModelWeights weights) : IWeightSource
{
    /// <summary>Whether the checkpoint stores the linear <paramref name="name"/> (no suffix) in GPTQ-Int4.</summary>
    public bool IsGptq(string name) => weights[name] is GptqTensor;

    public float[] Vector(PlannedWeight w)
    {
        ArgumentNullException.ThrowIfNull(w);
        int l = w.Layer;
        return weights[w.Role switch
        {
            WeightRole.FinalNorm => ModelLayout.FinalNorm,
            WeightRole.InputNorm => ModelLayout.InputNorm(l),
            WeightRole.PostNorm => ModelLayout.PostAttentionNorm(l),
            WeightRole.QueryNorm => ModelLayout.QueryNorm(l),
            WeightRole.KeyNorm => ModelLayout.KeyNorm(l),
            _ => throw new ArgumentException($"'{w.Name}' ({w.Role}) is not a checkpoint vector"),
        }].ReadF32();
    }

    public QuantizedMatrix Matrix(PlannedWeight w, int index)
    {
        ArgumentNullException.ThrowIfNull(w);
        int l = w.Layer;
        QuantizedMatrix Read(string name) => Quantizer.Convert(weights[name], w.Format);
        bool shared = index == weights.Config.Experts;
        string Expert(string proj) => shared ? ModelLayout.Shared(l, proj) : ModelLayout.Expert(l, index, proj);
        return w.Role switch
        {
            WeightRole.Embedding => Read(ModelLayout.Embedding),
            WeightRole.LmHead => Quantizer.Convert(weights.LmHead, w.Format),
            WeightRole.Qkv => QuantizedMatrix.ConcatRows(Read(ModelLayout.Attention(l, "q")), Read(ModelLayout.Attention(l, "k")), Read(ModelLayout.Attention(l, "v"))),
            WeightRole.O => Read(ModelLayout.Attention(l, "o")),
            WeightRole.Router => Read(ModelLayout.Router(l)),
            WeightRole.GateUp => QuantizedMatrix.InterleaveRows(Read(Expert("gate")), Read(Expert("up"))),
            WeightRole.Down => Read(Expert("down")),
            _ => throw new ArgumentException($"'{w.Name}' ({w.Role}) is not a checkpoint matrix"),
        };
    }
}

/// <summary>Random weights at the plan's shapes, with no checkpoint (benchmarks at A13B's dimensions on any machine):
/// norms of ones, matrices of scaled random values, in the order they are asked for.</summary>
public sealed class RandomWeightSource(int seed) : IWeightSource
{
    private readonly Random _random = new(seed);

    public float[] Vector(PlannedWeight w)
    {
        ArgumentNullException.ThrowIfNull(w);
        return [.. Enumerable.Repeat(1f, w.Cols)];
    }

    public QuantizedMatrix Matrix(PlannedWeight w, int index)
    {
        ArgumentNullException.ThrowIfNull(w);
        return QuantizedMatrix.Random(w.Format, w.Rows, w.Cols, _random);
    }
}
