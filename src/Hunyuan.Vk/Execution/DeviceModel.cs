using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// A model's weights on the device, laid out for the kernels: q, k and v rows concatenated (one QKV product); each
/// layer's experts stacked with the shared expert last, gate and up rows interleaved (gate_0, up_0, gate_1, ...) so the
/// gate/up kernel ends in SwiGLU; the router in F32; the embedding doubling as the tied lm_head. The routed experts of
/// the first <see cref="HostLayers"/> layers are in host memory instead (<see cref="HostExpertLayer"/>), computed on the
/// CPU; those layers' device stacks hold only the shared expert, at the stack index the routing gives it, or nothing
/// when <see cref="SharedExpertsOnHost"/> (a CPU device: its shaders are slower than the host kernels on the same memory).
/// </summary>
public sealed class DeviceModel : IDisposable
{
    private readonly OwnedResources _owned = new();
    private HostExpertLayer?[] _host = [];

    public sealed record Layer(
        GpuBuffer InputNorm,       // [hidden] f32
        DeviceMatrix Qkv,          // [q_dim + 2 kv_dim, hidden]
        DeviceMatrix O,            // [hidden, q_dim]
        GpuBuffer? QueryNorm,      // [head_dim] f32
        GpuBuffer? KeyNorm,        // [head_dim] f32
        GpuBuffer PostNorm,        // [hidden] f32
        DeviceMatrix Router,       // [experts, hidden] F32
        DeviceMatrix? GateUp,      // stacked experts (routed, then shared if any) x [2 * inter, hidden], rows interleaved; null: all on the host
        DeviceMatrix? Down);       // stacked experts x [hidden, inter]

    public HunyuanConfig Config { get; }
    public WeightFormat Format { get; }
    public DeviceMatrix Embedding { get; private set; }   // [vocab, hidden]; also the lm_head when tied
    public DeviceMatrix LmHead { get; private set; }
    public GpuBuffer FinalNorm { get; private set; }
    public GpuBuffer InverseFrequencies { get; private set; }
    public IReadOnlyList<Layer> Layers { get; private set; }

    /// <summary>Layers whose routed experts are in host memory: the first ones.</summary>
    public int HostLayers { get; private set; }

    /// <summary>Whether the host layers' shared experts are on the host too (their device stacks are null).</summary>
    public bool SharedExpertsOnHost { get; private set; }

    /// <summary>Host bytes the routed experts on the host take (layers sharing weights counted once).</summary>
    public long HostBytes => _host.Where(h => h is not null).Distinct().Sum(h => h!.Bytes);

    /// <summary>The host experts of <paramref name="layer"/>, or null when its experts are on the device.</summary>
    internal HostExpertLayer? Host(int layer) => layer < _host.Length ? _host[layer] : null;

    /// <summary>Bytes of device memory the weights take.</summary>
    public long DeviceBytes => _owned.Items.OfType<GpuBuffer>().Sum(b => (long)b.Size) + _owned.Items.OfType<DeviceMatrix>().Sum(m => (long)m.DeviceBytes);

    /// <summary>Converts and uploads every tensor, layer by layer; the routed experts of the first
    /// <paramref name="hostLayers"/> layers go to host memory instead. <paramref name="progress"/> hears after the
    /// embedding and each layer.</summary>
    public DeviceModel(GpuContext context, ModelWeights weights, WeightFormat format, Action<LoadProgress>? progress = null, int hostLayers = 0,
        bool sharedOnHost = false)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(weights);
        HunyuanConfig c = weights.Config;
        if (c.SharedExperts > 0 && c.SharedIntermediate != c.ExpertIntermediate)
        {
            throw new NotSupportedException($"The shared expert's width {c.SharedIntermediate} differs from the routed experts' {c.ExpertIntermediate}; the engine stacks them together");
        }

        Config = c;
        Format = format;
        HostLayers = CheckHostLayers(c, hostLayers);
        SharedExpertsOnHost = sharedOnHost && hostLayers > 0;
        _host = new HostExpertLayer?[c.Layers];
        using UploadBatch batch = context.BatchUploads();   // where the host cannot map device memory: few large copies
        try
        {
            Embedding = Own(DeviceMatrix.Upload(context, "embed_tokens", Convert(weights[ModelLayout.Embedding], format)));
            LmHead = c.TieWordEmbeddings ? Embedding : Own(DeviceMatrix.Upload(context, "lm_head", Convert(weights.LmHead, format)));
            FinalNorm = Floats(context, weights[ModelLayout.FinalNorm]);
            InverseFrequencies = Own(Upload(context, "inv_freq", RopeNormKvKernel.InverseFrequencies(c.HeadDim, c.RopeBase)));
            var layers = new List<Layer>();
            progress?.Invoke(new LoadProgress(0, c.Layers, DeviceBytes));
            for (int l = 0; l < c.Layers; l++)
            {
                layers.Add(LoadLayer(context, weights, format, l));
                progress?.Invoke(new LoadProgress(l + 1, c.Layers, DeviceBytes));
            }

            Layers = layers;
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>
    /// Random weights of <paramref name="config"/>'s shape straight into device format, one matrix at a time, with no
    /// checkpoint: for benchmarks at real dimensions (A13B) on any machine. With <paramref name="oneLayerForAll"/> every
    /// layer runs the first layer's weights, so a full-depth step fits the memory of one layer.
    /// </summary>
    public static DeviceModel Random(GpuContext context, HunyuanConfig config, WeightFormat format, int seed = 1, bool oneLayerForAll = false,
        Action<LoadProgress>? progress = null, int hostLayers = 0, bool sharedOnHost = false)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(config);
        var m = new DeviceModel(config, format) { HostLayers = CheckHostLayers(config, hostLayers), SharedExpertsOnHost = sharedOnHost && hostLayers > 0 };
        m._host = new HostExpertLayer?[config.Layers];
        using UploadBatch batch = context.BatchUploads();
        try
        {
            HunyuanConfig c = config;
            var random = new Random(seed);
            WeightFormat dense = format.ForUnquantized();   // as a checkpoint's non-GPTQ tensors
            DeviceMatrix Matrix(string name, int count, int rows, int cols, WeightFormat f) =>
                m.Own(DeviceMatrix.Upload(context, name, count, _ => QuantizedMatrix.Random(f, rows, cols, random)));
            GpuBuffer Ones(string name, int n) => m.Own(Upload(context, name, [.. Enumerable.Repeat(1f, n)]));

            m.Embedding = Matrix("embed_tokens", 1, c.VocabSize, c.HiddenSize, dense);
            m.LmHead = c.TieWordEmbeddings ? m.Embedding : Matrix("lm_head", 1, c.VocabSize, c.HiddenSize, dense);
            m.FinalNorm = Ones("norm", c.HiddenSize);
            m.InverseFrequencies = m.Own(Upload(context, "inv_freq", RopeNormKvKernel.InverseFrequencies(c.HeadDim, c.RopeBase)));
            int experts = c.StackedExperts;
            var layers = new List<Layer>();
            progress?.Invoke(new LoadProgress(0, c.Layers, m.DeviceBytes));
            DeviceMatrix? Stack(string name, bool host, int rows, int cols) => !host ? Matrix(name, experts, rows, cols, format)
                : m.SharedExpertsOnHost ? null
                : m.Own(DeviceMatrix.Upload(context, name + " (shared)", 1, _ => QuantizedMatrix.Random(format, rows, cols, random), first: c.Experts));
            int hostExperts = c.Experts + (m.SharedExpertsOnHost ? 1 : 0);
            for (int l = 0; l < c.Layers; l++)
            {
                bool host = m.OnHost(l);
                // Sharing one layer's weights: the first device layer's and the first host layer's.
                int like = host ? 0 : m.HostLayers;
                if (oneLayerForAll && l > like)
                {
                    layers.Add(layers[like]);
                    m._host[l] = m._host[like];
                }
                else
                {
                    layers.Add(new Layer(
                        Ones($"layer {l} input norm", c.HiddenSize),
                        Matrix($"layer {l} qkv", 1, c.QueryDim + 2 * c.KvDim, c.HiddenSize, format),
                        Matrix($"layer {l} o_proj", 1, c.HiddenSize, c.QueryDim, format),
                        c.UseQkNorm ? Ones($"layer {l} q norm", c.HeadDim) : null,
                        c.UseQkNorm ? Ones($"layer {l} k norm", c.HeadDim) : null,
                        Ones($"layer {l} post norm", c.HiddenSize),
                        Matrix($"layer {l} router", 1, c.Experts, c.HiddenSize, WeightFormat.F32),
                        Stack($"layer {l} experts gate_up", host, 2 * c.ExpertIntermediate, c.HiddenSize),
                        Stack($"layer {l} experts down", host, c.HiddenSize, c.ExpertIntermediate)));
                    if (host)
                    {
                        m._host[l] = new HostExpertLayer(
                            [.. Enumerable.Range(0, hostExperts).Select(_ => QuantizedMatrix.Random(format, 2 * c.ExpertIntermediate, c.HiddenSize, random))],
                            [.. Enumerable.Range(0, hostExperts).Select(_ => QuantizedMatrix.Random(format, c.HiddenSize, c.ExpertIntermediate, random))]);
                    }
                }

                progress?.Invoke(new LoadProgress(l + 1, c.Layers, m.DeviceBytes));
            }

            m.Layers = layers;
            return m;
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    private DeviceModel(HunyuanConfig config, WeightFormat format)
    {
        Config = config;
        Format = format;
        Embedding = LmHead = null!;   // set by the factory before it returns
        FinalNorm = InverseFrequencies = null!;
        Layers = [];
    }

    public bool OnHost(int layer) => layer < HostLayers;

    private static int CheckHostLayers(HunyuanConfig c, int hostLayers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(hostLayers);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hostLayers, c.Layers);
        ExpertPlacement.RequireSharedExpert(c, hostLayers);
        return hostLayers;
    }

    private Layer LoadLayer(GpuContext context, ModelWeights w, WeightFormat format, int l)
    {
        HunyuanConfig c = Config;
        bool host = OnHost(l);
        // Rows are stored independently in every format, so concatenating and interleaving is exact (GPTQ stays as it is).
        QuantizedMatrix qkv = QuantizedMatrix.ConcatRows(
            Convert(w[ModelLayout.Attention(l, "q")], format), Convert(w[ModelLayout.Attention(l, "k")], format), Convert(w[ModelLayout.Attention(l, "v")], format));
        var gateUp = new List<QuantizedMatrix>();
        var down = new List<QuantizedMatrix>();
        var hostGateUp = new List<QuantizedMatrix>();
        var hostDown = new List<QuantizedMatrix>();
        for (int e = 0; e <= c.Experts; e++)
        {
            bool shared = e == c.Experts;
            if (shared && c.SharedExperts == 0)
            {
                break;
            }

            string gate = shared ? ModelLayout.Shared(l, "gate") : ModelLayout.Expert(l, e, "gate");
            string up = shared ? ModelLayout.Shared(l, "up") : ModelLayout.Expert(l, e, "up");
            string dn = shared ? ModelLayout.Shared(l, "down") : ModelLayout.Expert(l, e, "down");
            bool toHost = host && (!shared || SharedExpertsOnHost);   // the shared expert last, at its routing index
            (toHost ? hostGateUp : gateUp).Add(QuantizedMatrix.InterleaveRows(Convert(w[gate], format), Convert(w[up], format)));
            (toHost ? hostDown : down).Add(Convert(w[dn], format));
        }

        if (host)
        {
            _host[l] = new HostExpertLayer(hostGateUp, hostDown);   // the quants are kept as read; the scales widened once
        }

        int first = host ? c.Experts : 0;   // a host layer's device stack: the shared expert alone, at its routing index

        return new Layer(
            Floats(context, w[ModelLayout.InputNorm(l)]),
            Own(DeviceMatrix.Upload(context, $"layer {l} qkv", qkv)),
            Own(DeviceMatrix.Upload(context, $"layer {l} o_proj", Convert(w[ModelLayout.Attention(l, "o")], format))),
            c.UseQkNorm ? Floats(context, w[ModelLayout.QueryNorm(l)]) : null,
            c.UseQkNorm ? Floats(context, w[ModelLayout.KeyNorm(l)]) : null,
            Floats(context, w[ModelLayout.PostAttentionNorm(l)]),
            Own(DeviceMatrix.Upload(context, $"layer {l} router", Quantizer.Convert(w[ModelLayout.Router(l)], WeightFormat.F32))),
            gateUp.Count == 0 ? null : Own(DeviceMatrix.Upload(context, $"layer {l} experts gate_up", gateUp.Count, i => gateUp[i], first)),
            down.Count == 0 ? null : Own(DeviceMatrix.Upload(context, $"layer {l} experts down", down.Count, i => down[i], first)));
    }

    // Q4Z is GPTQ as it is; tensors that are not GPTQ (the embedding, the lm_head, a dense shared expert) go to Q8 then.
    private static QuantizedMatrix Convert(StoredTensor t, WeightFormat format) =>
        Quantizer.Convert(t, t is GptqTensor ? format : format.ForUnquantized());

    private GpuBuffer Floats(GpuContext context, StoredTensor t) => Own(Upload(context, t.Name, t.ReadF32()));

    private static GpuBuffer Upload(GpuContext context, string name, float[] values)
    {
        GpuBuffer b = context.CreateBuffer((ulong)values.Length * 4, name);
        b.Write<float>(values);
        return b;
    }

    private T Own<T>(T item)
        where T : IDisposable => _owned.Add(item);

    public void Dispose() => _owned.Dispose();
}


/// <summary>How far a load has come: layers on the device out of all, and device bytes so far.</summary>
public readonly record struct LoadProgress(int LayersDone, int Layers, long DeviceBytes);
