using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// A model's weights in host memory for the host executor (<see cref="HostSession"/>): the same <see cref="WeightPlan"/>
/// as the device's with every layer's experts, shared ones included, in host stacks, and every other weight held as a
/// <see cref="HostMatrix"/> (the device's quants, f32 scales) or an f32 vector. Made from a checkpoint or at random,
/// through the same <see cref="IWeightSource"/>s the device model takes.
/// </summary>
public sealed class HostModel
{
    internal sealed record Layer(float[] InputNorm, HostMatrix Qkv, HostMatrix O, float[]? QueryNorm, float[]? KeyNorm, float[] PostNorm, HostMatrix Router,
        HostExpertLayer Experts);

    private HostModel(WeightPlan plan, IWeightSource source, Action<LoadProgress>? progress, bool oneLayerForAll)
    {
        HunyuanConfig c = plan.Config;
        Config = c;
        Format = plan.Format;
        HostMatrix Matrix(PlannedWeight w) => new(source.Matrix(w, w.First));
        Embedding = Matrix(plan.Embedding);
        LmHead = c.TieWordEmbeddings ? Embedding : Matrix(plan.LmHead);
        FinalNorm = source.Vector(plan.FinalNorm);
        InverseFrequencies = RopeNormKvKernel.InverseFrequencies(c.HeadDim, c.RopeBase);
        var layers = new Layer[c.Layers];
        long bytes = Embedding.Bytes + (c.TieWordEmbeddings ? 0 : LmHead.Bytes);
        progress?.Invoke(new LoadProgress(0, c.Layers, bytes));
        for (int l = 0; l < c.Layers; l++)
        {
            if (oneLayerForAll && l > 0)
            {
                layers[l] = layers[0];
            }
            else
            {
                LayerWeights w = plan.Layers[l];
                PlannedWeight gateUp = w.HostGateUp!, down = w.HostDown!;
                layers[l] = new Layer(source.Vector(w.InputNorm), Matrix(w.Qkv), Matrix(w.O),
                    w.QueryNorm is null ? null : source.Vector(w.QueryNorm), w.KeyNorm is null ? null : source.Vector(w.KeyNorm),
                    source.Vector(w.PostNorm), Matrix(w.Router),
                    new HostExpertLayer(
                        [.. Enumerable.Range(gateUp.First, gateUp.Count).Select(e => source.Matrix(gateUp, e))],
                        [.. Enumerable.Range(down.First, down.Count).Select(e => source.Matrix(down, e))]));
                bytes += layers[l].Qkv.Bytes + layers[l].O.Bytes + layers[l].Router.Bytes + layers[l].Experts.Bytes;
            }

            progress?.Invoke(new LoadProgress(l + 1, c.Layers, bytes));
        }

        Layers = layers;
        Bytes = bytes;
    }

    public HunyuanConfig Config { get; }

    /// <summary>The weight format of the products (F16 is held widened to f32).</summary>
    public WeightFormat Format { get; }

    /// <summary>Host bytes the weights take (layers sharing weights counted once).</summary>
    public long Bytes { get; }

    internal HostMatrix Embedding { get; }
    internal HostMatrix LmHead { get; }
    internal float[] FinalNorm { get; }
    internal float[] InverseFrequencies { get; }
    internal IReadOnlyList<Layer> Layers { get; }

    /// <summary>Weight bytes one decode token reads: every layer's attention and router, its shared and top-k routed
    /// experts, the embedding's row and the lm_head (the floor's numerator).</summary>
    public long DecodeBytes => Layers.Sum(l => l.Qkv.Bytes + l.O.Bytes + l.Router.Bytes + Config.RouteSlots * l.Experts.BytesPerExpert)
        + LmHead.Bytes + Embedding.Bytes / Config.VocabSize;

    /// <summary>The plan of <paramref name="c"/> for the host: every layer's experts (and shared expert) in host stacks.</summary>
    public static WeightPlan Plan(HunyuanConfig c, WeightFormat format, Func<string, bool>? isGptq = null)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (c.SharedExperts > 0 && c.SharedIntermediate != c.ExpertIntermediate)
        {
            throw new NotSupportedException($"The shared expert's width {c.SharedIntermediate} differs from the routed experts' {c.ExpertIntermediate}; the engine stacks them together");
        }

        return WeightPlan.For(c, format, c.Layers, sharedOnHost: c.SharedExperts > 0, isGptq);
    }

    /// <summary>Host bytes the weights of <paramref name="plan"/> take as held here (<see cref="HostMatrix.BytesFor"/>).</summary>
    public static long Estimate(WeightPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return plan.All.Sum(w => w.IsVector ? w.Bytes : w.Count * HostMatrix.BytesFor(w.Format, w.Rows, w.Cols));
    }

    /// <summary>The checkpoint <paramref name="weights"/> in <paramref name="format"/>, converted layer by layer.</summary>
    public static HostModel Load(ModelWeights weights, WeightFormat format, Action<LoadProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var source = new CheckpointWeightSource(weights);
        return new HostModel(Plan(weights.Config, format, source.IsGptq), source, progress, oneLayerForAll: false);
    }

    /// <summary>Random weights of <paramref name="config"/>'s shape (benchmarks); with <paramref name="oneLayerForAll"/>
    /// every layer runs the first layer's weights.</summary>
    public static HostModel Random(HunyuanConfig config, WeightFormat format, int seed = 1, bool oneLayerForAll = false, Action<LoadProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new HostModel(Plan(config, format, isGptq: _ => true), new RandomWeightSource(seed), progress, oneLayerForAll);
    }
}
