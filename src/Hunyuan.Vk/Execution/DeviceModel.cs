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
    private readonly HostExpertLayer?[] _host;

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
    public DeviceMatrix Embedding { get; }   // [vocab, hidden]; also the lm_head when tied
    public DeviceMatrix LmHead { get; }
    public GpuBuffer FinalNorm { get; }
    public GpuBuffer InverseFrequencies { get; }
    public IReadOnlyList<Layer> Layers { get; }

    /// <summary>Layers whose routed experts are in host memory: the first ones.</summary>
    public int HostLayers { get; }

    /// <summary>Whether the host layers' shared experts are on the host too (their device stacks are null).</summary>
    public bool SharedExpertsOnHost { get; }

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
        : this(context, Plan(weights, format, hostLayers, sharedOnHost), new CheckpointWeightSource(weights), progress, oneLayerForAll: false)
    {
    }

    /// <summary>
    /// Random weights of <paramref name="config"/>'s shape straight into device format, one matrix at a time, with no
    /// checkpoint: for benchmarks at real dimensions (A13B) on any machine. With <paramref name="oneLayerForAll"/> every
    /// layer runs the first layer's weights (the first host layer's, for host layers), so a full-depth step fits the
    /// memory of one layer.
    /// </summary>
    public static DeviceModel Random(GpuContext context, HunyuanConfig config, WeightFormat format, int seed = 1, bool oneLayerForAll = false,
        Action<LoadProgress>? progress = null, int hostLayers = 0, bool sharedOnHost = false)
    {
        ArgumentNullException.ThrowIfNull(config);
        // Every linear as a GPTQ checkpoint's, so a GPTQ format (Q4Z) is what the products run.
        WeightPlan plan = WeightPlan.For(config, format, CheckHostLayers(config, hostLayers), sharedOnHost, isGptq: _ => true);
        return new DeviceModel(context, plan, new RandomWeightSource(seed), progress, oneLayerForAll);
    }

    /// <summary>Makes every weight <paramref name="plan"/> lists from <paramref name="source"/>: the device's in device
    /// memory, the host's in host memory.</summary>
    private DeviceModel(GpuContext context, WeightPlan plan, IWeightSource source, Action<LoadProgress>? progress, bool oneLayerForAll)
    {
        ArgumentNullException.ThrowIfNull(context);
        HunyuanConfig c = plan.Config;
        if (c.SharedExperts > 0 && c.SharedIntermediate != c.ExpertIntermediate)
        {
            throw new NotSupportedException($"The shared expert's width {c.SharedIntermediate} differs from the routed experts' {c.ExpertIntermediate}; the engine stacks them together");
        }

        Config = c;
        Format = plan.Format;
        HostLayers = plan.HostLayers;
        SharedExpertsOnHost = plan.SharedOnHost;
        _host = new HostExpertLayer?[c.Layers];
        Layers = [];
        using UploadBatch batch = context.BatchUploads();   // where the host cannot map device memory: few large copies
        try
        {
            DeviceMatrix Matrix(PlannedWeight w) => Own(DeviceMatrix.Upload(context, w.Name, w.Count, i => source.Matrix(w, w.First + i), w.First));
            GpuBuffer Vector(PlannedWeight w, float[] values) => Own(Upload(context, w.Name, values));
            Embedding = Matrix(plan.Embedding);
            LmHead = c.TieWordEmbeddings ? Embedding : Matrix(plan.LmHead);
            FinalNorm = Vector(plan.FinalNorm, source.Vector(plan.FinalNorm));
            InverseFrequencies = Vector(plan.InverseFrequencies, RopeNormKvKernel.InverseFrequencies(c.HeadDim, c.RopeBase));
            var layers = new List<Layer>();
            progress?.Invoke(new LoadProgress(0, c.Layers, DeviceBytes));
            for (int l = 0; l < c.Layers; l++)
            {
                int like = OnHost(l) ? 0 : HostLayers;   // sharing one layer's weights: the first host layer's or device layer's
                if (oneLayerForAll && l > like)
                {
                    layers.Add(layers[like]);
                    _host[l] = _host[like];
                }
                else
                {
                    LayerWeights w = plan.Layers[l];
                    layers.Add(new Layer(
                        Vector(w.InputNorm, source.Vector(w.InputNorm)),
                        Matrix(w.Qkv),
                        Matrix(w.O),
                        w.QueryNorm is null ? null : Vector(w.QueryNorm, source.Vector(w.QueryNorm)),
                        w.KeyNorm is null ? null : Vector(w.KeyNorm, source.Vector(w.KeyNorm)),
                        Vector(w.PostNorm, source.Vector(w.PostNorm)),
                        Matrix(w.Router),
                        w.GateUp is null ? null : Matrix(w.GateUp),
                        w.Down is null ? null : Matrix(w.Down)));
                    if (w.HostGateUp is PlannedWeight gateUp && w.HostDown is PlannedWeight down)
                    {
                        // The quants are kept as made; the scales widened once.
                        _host[l] = new HostExpertLayer(
                            [.. Enumerable.Range(gateUp.First, gateUp.Count).Select(e => source.Matrix(gateUp, e))],
                            [.. Enumerable.Range(down.First, down.Count).Select(e => source.Matrix(down, e))]);
                    }
                }

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

    public bool OnHost(int layer) => layer < HostLayers;

    private static WeightPlan Plan(ModelWeights weights, WeightFormat format, int hostLayers, bool sharedOnHost)
    {
        ArgumentNullException.ThrowIfNull(weights);
        var source = new CheckpointWeightSource(weights);
        return WeightPlan.For(weights.Config, format, CheckHostLayers(weights.Config, hostLayers), sharedOnHost, source.IsGptq);
    }

    private static int CheckHostLayers(HunyuanConfig c, int hostLayers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(hostLayers);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(hostLayers, c.Layers);
        ExpertPlacement.RequireSharedExpert(c, hostLayers);
        return hostLayers;
    }

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
