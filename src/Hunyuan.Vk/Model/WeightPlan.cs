using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Model;

/// <summary>What a planned weight is in the forward pass; names the checkpoint tensors it is made of.</summary>
public enum WeightRole
{
    Embedding,
    LmHead,
    FinalNorm,
    InverseFrequencies,
    InputNorm,
    PostNorm,
    QueryNorm,
    KeyNorm,
    Qkv,
    O,
    Router,
    GateUp,
    Down,
}

/// <summary>Where a weight lives: device memory, or host memory for the host kernels.</summary>
public enum WeightSide
{
    Device,
    Host,
}

/// <summary>
/// One weight as the engine lays it out: a vector of <see cref="Cols"/> f32 (norms, RoPE frequencies), or a stack of
/// <see cref="Count"/> matrices [<see cref="Rows"/>, <see cref="Cols"/>] in <see cref="Format"/>, matrices
/// <see cref="First"/> .. <see cref="First"/> + <see cref="Count"/> - 1 of the layer's expert stack (routed experts,
/// then the shared one).
/// </summary>
public sealed record PlannedWeight(string Name, WeightRole Role, int Layer, WeightFormat Format, int Rows, int Cols, int Count = 1, int First = 0,
    WeightSide Side = WeightSide.Device)
{
    public bool IsVector => Role is WeightRole.FinalNorm or WeightRole.InverseFrequencies or WeightRole.InputNorm or WeightRole.PostNorm
        or WeightRole.QueryNorm or WeightRole.KeyNorm;

    /// <summary>Bytes in its format (a device buffer rounds each table up to its alignment).</summary>
    public long Bytes => IsVector ? 4L * Cols : Count * Format.Spec().Bytes(Rows, Cols);
}

/// <summary>One layer's weights as laid out: q, k and v rows in one matrix; the expert stacks with gate and up rows
/// interleaved (so the gate/up product ends in SwiGLU), the shared expert last; a host layer's routed experts (and, on
/// a CPU device, its shared one) in host stacks, its device stacks holding what stays.</summary>
public sealed record LayerWeights(PlannedWeight InputNorm, PlannedWeight Qkv, PlannedWeight O, PlannedWeight? QueryNorm, PlannedWeight? KeyNorm,
    PlannedWeight PostNorm, PlannedWeight Router, PlannedWeight? GateUp, PlannedWeight? Down, PlannedWeight? HostGateUp, PlannedWeight? HostDown)
{
    public IEnumerable<PlannedWeight> All =>
        new[] { InputNorm, Qkv, O, QueryNorm, KeyNorm, PostNorm, Router, GateUp, Down, HostGateUp, HostDown }.OfType<PlannedWeight>();

    /// <summary>Bytes of one expert (its gate/up and down matrices) in the layer's expert format, on either side.</summary>
    public long ExpertBytes => (GateUp ?? HostGateUp) is PlannedWeight gateUp && (Down ?? HostDown) is PlannedWeight down
        ? (gateUp.Bytes + down.Bytes) / gateUp.Count
        : 0;
}

/// <summary>
/// Every weight of a model as the engine lays it out (docs/architecture.md, "The plan"), from the config, the device
/// format and the placement alone: its name, shape, format and side. The loader makes what it lists, from a checkpoint
/// or at random, and the memory estimate adds it up.
/// </summary>
public sealed class WeightPlan
{
    private WeightPlan(HunyuanConfig c, WeightFormat format, int hostLayers, bool sharedOnHost, Func<string, bool> isGptq)
    {
        Config = c;
        Format = format;
        HostLayers = hostLayers;
        SharedOnHost = sharedOnHost && hostLayers > 0;
        int h = c.HiddenSize, inter = c.ExpertIntermediate;
        WeightFormat dense = format.ForUnquantized();
        // GPTQ tensors stay as they are (Q4Z); every other linear goes to the format, or to Q8 where that is GPTQ's.
        WeightFormat Linear(string name) => format.Spec().FromFloats || isGptq(name) ? format : dense;
        Embedding = new PlannedWeight("embed_tokens", WeightRole.Embedding, -1, dense, c.VocabSize, h);
        LmHead = c.TieWordEmbeddings ? Embedding : new PlannedWeight("lm_head", WeightRole.LmHead, -1, dense, c.VocabSize, h);
        FinalNorm = new PlannedWeight("norm", WeightRole.FinalNorm, -1, WeightFormat.F32, 1, h);
        InverseFrequencies = new PlannedWeight("inv_freq", WeightRole.InverseFrequencies, -1, WeightFormat.F32, 1, c.HeadDim / 2);
        var layers = new LayerWeights[c.Layers];
        for (int l = 0; l < c.Layers; l++)
        {
            string at = $"layer {l} ";
            PlannedWeight Vector(string name, WeightRole role, int n) => new(at + name, role, l, WeightFormat.F32, 1, n);
            WeightFormat experts = Linear(ModelLayout.Expert(l, 0, "gate"));
            // A device layer stacks every expert; a host layer keeps the shared one on the device (at its routing index),
            // or nothing when that is on the host too.
            bool host = l < hostLayers;
            int onDevice = !host ? c.StackedExperts : SharedOnHost ? 0 : c.StackedExperts - c.Experts;
            int deviceFirst = host ? c.Experts : 0;
            PlannedWeight? Stack(string name, WeightRole role, int rows, int cols, int count, int first, WeightSide side) =>
                count == 0 ? null : new(at + name, role, l, experts, rows, cols, count, first, side);
            int onHost = !host ? 0 : SharedOnHost ? c.StackedExperts : c.Experts;
            layers[l] = new LayerWeights(
                Vector("input norm", WeightRole.InputNorm, h),
                new PlannedWeight(at + "qkv", WeightRole.Qkv, l, Linear(ModelLayout.Attention(l, "q")), c.QueryDim + 2 * c.KvDim, h),
                new PlannedWeight(at + "o_proj", WeightRole.O, l, Linear(ModelLayout.Attention(l, "o")), h, c.QueryDim),
                c.UseQkNorm ? Vector("q norm", WeightRole.QueryNorm, c.HeadDim) : null,
                c.UseQkNorm ? Vector("k norm", WeightRole.KeyNorm, c.HeadDim) : null,
                Vector("post norm", WeightRole.PostNorm, h),
                new PlannedWeight(at + "router", WeightRole.Router, l, WeightFormat.F32, c.Experts, h),
                Stack("experts gate_up", WeightRole.GateUp, 2 * inter, h, onDevice, deviceFirst, WeightSide.Device),
                Stack("experts down", WeightRole.Down, h, inter, onDevice, deviceFirst, WeightSide.Device),
                Stack("host experts gate_up", WeightRole.GateUp, 2 * inter, h, onHost, 0, WeightSide.Host),
                Stack("host experts down", WeightRole.Down, h, inter, onHost, 0, WeightSide.Host));
        }

        Layers = layers;
    }

    /// <summary>The plan of <paramref name="c"/> in <paramref name="format"/>, the routed experts of the first
    /// <paramref name="hostLayers"/> layers on the host (and their shared ones with <paramref name="sharedOnHost"/>).
    /// <paramref name="isGptq"/> says which checkpoint linears are GPTQ (by name without suffix); by default all of a
    /// GPTQ checkpoint's.</summary>
    public static WeightPlan For(HunyuanConfig c, WeightFormat format, int hostLayers = 0, bool sharedOnHost = false, Func<string, bool>? isGptq = null)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentOutOfRangeException.ThrowIfNegative(hostLayers);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hostLayers, c.Layers);
        bool gptqCheckpoint = c.Quantization.Format == CheckpointFormat.GptqInt4;
        return new WeightPlan(c, format, hostLayers, sharedOnHost, isGptq ?? (_ => gptqCheckpoint));
    }

    public HunyuanConfig Config { get; }
    public WeightFormat Format { get; }

    /// <summary>Layers whose routed experts are on the host: the first ones.</summary>
    public int HostLayers { get; }

    /// <summary>Whether the host layers' shared experts are on the host too.</summary>
    public bool SharedOnHost { get; }

    public PlannedWeight Embedding { get; }

    /// <summary>The output projection: the embedding itself when tied.</summary>
    public PlannedWeight LmHead { get; }

    public PlannedWeight FinalNorm { get; }

    /// <summary>RoPE's inverse frequencies, computed from the config (no checkpoint tensor).</summary>
    public PlannedWeight InverseFrequencies { get; }

    public IReadOnlyList<LayerWeights> Layers { get; }

    /// <summary>Every weight, each once (a tied lm_head is the embedding).</summary>
    public IEnumerable<PlannedWeight> All =>
        new[] { Embedding, LmHead, FinalNorm, InverseFrequencies }.Distinct().Concat(Layers.SelectMany(l => l.All));

    /// <summary>Bytes of the weights on <paramref name="side"/>, in their formats.</summary>
    public long Bytes(WeightSide side) => All.Where(w => w.Side == side).Sum(w => w.Bytes);
}
