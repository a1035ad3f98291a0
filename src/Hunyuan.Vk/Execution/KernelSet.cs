using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// Every kernel a session records, built once for the device's tuning; the weight-format kernels on first use, one per
/// format and mode (and input width for matvec, whose shared x is sized for it). A new kernel is one line here.
/// </summary>
internal sealed class KernelSet : IDisposable
{
    private readonly GpuContext _context;
    private readonly OwnedResources _owned = new();
    private readonly Dictionary<(WeightFormat, MatVecMode, int, bool), MatVecKernel> _matvec = [];
    private readonly Dictionary<(WeightFormat, MatMulMode), MatMulKernel> _matmul = [];
    private readonly Dictionary<WeightFormat, EmbedKernel> _embed = [];
    private BinaryOpKernel? _add;

    public KernelSet(GpuContext context, HunyuanConfig config, AttentionShape shape, KvCacheFormat kvFormat = KvCacheFormat.F16)
    {
        _context = context;
        Tuning = DeviceTuning.For(context.Info);
        try
        {
            Norm = Own(new RmsNormKernel(context, Tuning));
            Rope = Own(new RopeNormKvKernel(context, Tuning, kvFormat));
            Attention = Own(new AttentionDecodeKernel(context, Tuning, shape, kvFormat));
            Route = Own(new MoeRouteKernel(context, Tuning));
            Combine = Own(new MoeCombineKernel(context, Tuning));
            CombineNorm = Own(new MoeCombineKernel(context, Tuning, norm: true));
            Group = Own(new MoeGroupKernel(context));
            Scatter = Own(new MoeScatterKernel(context, Tuning));
            Argmax = Own(new ArgmaxKernel(context, Tuning));
            Sampler = Own(new Sampler(context, Tuning, (uint)config.VocabSize));
            Penalty = Own(new RepetitionPenaltyKernel(context, Tuning));
        }
        catch
        {
            _owned.Dispose();
            throw;
        }
    }

    public DeviceTuning Tuning { get; }
    public RmsNormKernel Norm { get; }
    public RopeNormKvKernel Rope { get; }
    public AttentionDecodeKernel Attention { get; }
    public MoeRouteKernel Route { get; }
    public MoeCombineKernel Combine { get; }

    /// <summary>The combine that also writes the next norm (decode's device layers).</summary>
    public MoeCombineKernel CombineNorm { get; }
    public MoeGroupKernel Group { get; }
    public MoeScatterKernel Scatter { get; }
    public ArgmaxKernel Argmax { get; }
    public Sampler Sampler { get; }
    public RepetitionPenaltyKernel Penalty { get; }
    /// <summary>x += y, for the host experts' return (built on first use: sessions without host layers never need it).</summary>
    public BinaryOpKernel Add => _add ??= Own(new BinaryOpKernel(_context, Tuning, BinaryOp.Add));

    /// <summary>Decode's product for matrices of <paramref name="format"/> with <paramref name="cols"/> inputs.</summary>
    public MatVecKernel MatVec(WeightFormat format, MatVecMode mode, int cols, bool routes = false)
    {
        if (!_matvec.TryGetValue((format, mode, cols, routes), out MatVecKernel? k))
        {
            _matvec[(format, mode, cols, routes)] = k = Own(new MatVecKernel(_context, Tuning, format, (uint)cols, mode, routes));
        }

        return k;
    }

    /// <summary>Prefill's product for matrices of <paramref name="format"/>.</summary>
    public MatMulKernel MatMul(WeightFormat format, MatMulMode mode)
    {
        if (!_matmul.TryGetValue((format, mode), out MatMulKernel? k))
        {
            _matmul[(format, mode)] = k = Own(new MatMulKernel(_context, Tuning, format, mode));
        }

        return k;
    }

    /// <summary>The embedding lookup for an embedding in <paramref name="format"/>.</summary>
    public EmbedKernel Embed(WeightFormat format)
    {
        if (!_embed.TryGetValue(format, out EmbedKernel? k))
        {
            _embed[format] = k = Own(new EmbedKernel(_context, Tuning, format));
        }

        return k;
    }

    private T Own<T>(T item)
        where T : IDisposable => _owned.Add(item);

    public void Dispose() => _owned.Dispose();
}
