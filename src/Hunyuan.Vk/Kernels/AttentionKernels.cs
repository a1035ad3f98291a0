using System.Runtime.InteropServices;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/rope_norm_kv.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct RopeNormKvPush(uint Heads, uint KvHeads, uint HeadDim, uint Position0, float Eps, uint UseNorm, uint Token0, uint PageStart, uint PageRows);

/// <summary>Push constants of shaders/attn_decode.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct AttentionDecodePush(uint KvHeads, uint Position0, uint MaxSplits, float Scale, uint Chunk, uint Span, uint PageStart, uint PageEnd,
    uint PageRows, uint SplitBase);

/// <summary>Push constants of shaders/attn_combine.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct AttentionCombinePush(uint HeadDim, uint MaxSplits);

/// <summary>The attention shape of a model.</summary>
internal sealed record AttentionShape(int Heads, int KvHeads, int HeadDim)
{
    public int QueryDim => Heads * HeadDim;
    public int KvDim => KvHeads * HeadDim;
    public int QkvDim => QueryDim + 2 * KvDim;
    public int Group => Heads / KvHeads;
}

/// <summary>
/// RoPE (NeoX, fp32 angles) then per-head QK RMSNorm, q out, k and v appended to the KV cache in its format
/// (shaders/rope_norm_kv.comp), for a batch of tokens at consecutive positions: one dispatch per page they reach.
/// </summary>
internal sealed class RopeNormKvKernel : Kernel<RopeNormKvPush>
{
    public RopeNormKvKernel(GpuContext context, DeviceTuning tuning, KvCacheFormat format = KvCacheFormat.F16)
        : base(context, ShaderId.RopeNormKv, [.. Enumerable.Repeat(BindingKind.Storage, 7)],
            [SpecConstant.FromUInt32(0, Tuned(tuning).NormWorkgroup), SpecConstant.FromUInt32(1, format == KvCacheFormat.Q8 ? 1u : 0u)])
    {
        Format = format;
    }

    public KvCacheFormat Format { get; }

    /// <summary>The per-pair inverse frequencies base^(-2i/d), rounded to fp32 as the official code computes them.</summary>
    public static float[] InverseFrequencies(int headDim, double ropeBase) =>
        [.. Enumerable.Range(0, headDim / 2).Select(i => (float)Math.Pow(ropeBase, -2.0 * i / headDim))];

    public void Record(CommandRecorder recorder, AttentionShape shape, BufferRange qkv, BufferRange invFreq, BufferRange? qNorm, BufferRange? kNorm,
        BufferRange qOut, KvLayer cache, uint tokens, uint position0, float eps)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.Format != Format)
        {
            throw new ArgumentException($"rope_norm_kv: built for a {Format.Name()} cache, given a {cache.Format.Name()} one");
        }

        Require(qkv, (ulong)tokens * (ulong)shape.QkvDim, 4, "qkv");
        Require(invFreq, (ulong)shape.HeadDim / 2, 4, "inv_freq");
        Require(qOut, (ulong)tokens * (ulong)shape.QueryDim, 4, "q_out");
        bool norm = qNorm is not null && kNorm is not null;
        uint pageSize = cache.PagePositions;
        for (uint t = 0; t < tokens;)
        {
            uint position = position0 + t;
            int page = (int)(position / pageSize);
            uint pageStart = (uint)page * pageSize, n = Math.Min(tokens - t, pageStart + pageSize - position);
            if (page >= cache.Pages || position + n - pageStart > cache.Rows[page])
            {
                throw new ArgumentException($"rope_norm_kv: positions {position}..{position + n - 1} are beyond the cache's {cache.Pages} pages of {pageSize}");
            }

            var push = new RopeNormKvPush((uint)shape.Heads, (uint)shape.KvHeads, (uint)shape.HeadDim, position0, eps, norm ? 1u : 0u, t, pageStart, cache.Rows[page]);
            // Without QK-norm the weights are not read; bind the frequencies in their place.
            DescriptorBinding set = Bind(qkv, invFreq, qNorm ?? invFreq, kNorm ?? invFreq, qOut, cache.K[page].All, cache.V[page].All);
            Dispatch(recorder, set, push, (uint)(shape.Heads + 2 * shape.KvHeads), n);
            t += n;
        }
    }
}

/// <summary>How one attention call splits the cache: positions per chunk (the shader's score array), per split (a
/// multiple of the chunk), and the partials' slots per head (the splits of every page).</summary>
internal readonly record struct AttentionPlan(uint Chunk, uint Span, uint Splits);

/// <summary>
/// Attention over the KV cache: split over positions, page by page (shaders/attn_decode.comp, one dispatch per page),
/// then merged per head and token (shaders/attn_combine.comp). One token is decode; a batch of tokens at consecutive
/// positions is causal prefill (token t sees positions up to its own).
/// </summary>
internal sealed class AttentionDecodeKernel : IDisposable
{
    private readonly SplitKernel _split;
    private readonly CombineKernel _combine;

    public AttentionDecodeKernel(GpuContext context, DeviceTuning tuning, AttentionShape shape, KvCacheFormat format = KvCacheFormat.F16)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(tuning);
        Splits = new AttentionSplits(tuning, shape, format);
        _split = new SplitKernel(context, tuning, shape, format);
        _combine = new CombineKernel(context, tuning);
    }

    public AttentionShape Shape => Splits.Shape;
    public KvCacheFormat Format => Splits.Format;

    /// <summary>How a context is split across workgroups and how many partials that needs.</summary>
    public AttentionSplits Splits { get; }

    /// <summary>Decode: one query (q [heads * d]) over <paramref name="kvLength"/> cached positions.</summary>
    public void Record(CommandRecorder recorder, BufferRange q, KvLayer cache, BufferRange partial, BufferRange output, uint kvLength)
    {
        if (kvLength == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(kvLength), "attention over an empty cache");
        }

        RecordBatch(recorder, q, cache, partial, output, tokens: 1, position0: kvLength - 1);
    }

    /// <summary>Causal attention for <paramref name="tokens"/> queries (q [tokens][heads * d]) at positions
    /// <paramref name="position0"/> onwards, whose K and V are already in the cache.</summary>
    public void RecordBatch(CommandRecorder recorder, BufferRange q, KvLayer cache, BufferRange partial, BufferRange output, uint tokens, uint position0)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        ArgumentNullException.ThrowIfNull(cache);
        if (tokens == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), "attention for no tokens");
        }

        if (cache.Format != Format)
        {
            throw new ArgumentException($"attn_decode: built for a {Format.Name()} cache, given a {cache.Format.Name()} one");
        }

        uint kvLength = position0 + tokens;
        AttentionPlan plan = Splits.Plan(kvLength, tokens, cache.PagePositions);
        _split.Require(q, partial, tokens, Splits.Floats(tokens, plan.Splits));
        uint splitBase = 0;
        for (int page = 0; (ulong)page * cache.PagePositions < kvLength; page++)
        {
            uint start = (uint)page * cache.PagePositions, end = (uint)Math.Min(kvLength, (ulong)start + cache.PagePositions);
            if (page >= cache.Pages || end - start > cache.Rows[page])
            {
                throw new ArgumentException($"attn_decode: {kvLength} positions are beyond the cache's {cache.Pages} pages of {cache.PagePositions}");
            }

            uint splits = (end - start + plan.Span - 1) / plan.Span;
            var push = new AttentionDecodePush((uint)Shape.KvHeads, position0, plan.Splits, 1f / MathF.Sqrt(Shape.HeadDim), plan.Chunk, plan.Span, start, end,
                cache.Rows[page], splitBase);
            _split.Record(recorder, q, cache.KTexels[page], cache.VTexels[page], partial, push, (uint)Shape.KvHeads, splits, tokens);
            splitBase += splits;
        }

        _combine.Record(recorder, Shape, partial, output, tokens, plan.Splits);
    }

    public void Dispose()
    {
        _split.Dispose();
        _combine.Dispose();
    }

    private sealed class SplitKernel(GpuContext context, DeviceTuning tuning, AttentionShape shape, KvCacheFormat format)
        : Kernel<AttentionDecodePush>(context, ShaderId.AttnDecode, [BindingKind.Storage, BindingKind.UniformTexel, BindingKind.UniformTexel, BindingKind.Storage],
            [
                SpecConstant.FromUInt32(0, tuning.AttentionWorkgroup), SpecConstant.FromUInt32(1, tuning.AttentionChunk), SpecConstant.FromUInt32(2, (uint)shape.Group),
                SpecConstant.FromUInt32(3, tuning.AttentionLanes), SpecConstant.FromUInt32(4, (uint)shape.HeadDim), SpecConstant.FromUInt32(5, format == KvCacheFormat.Q8 ? 1u : 0u),
            ],
            DeviceTuning.RequiredSubgroupSize(context.Info, tuning.AttentionLanes, "attn_decode"), fullSubgroups: tuning.AttentionLanes > 1)
    {
        public void Require(BufferRange q, BufferRange partial, uint tokens, ulong partialFloats)
        {
            Require(q, (ulong)tokens * (ulong)shape.QueryDim, 4, "q");
            Require(partial, partialFloats, 4, "partial");
        }

        public void Record(CommandRecorder r, BufferRange q, TexelView k, TexelView v, BufferRange partial, in AttentionDecodePush push, uint x, uint y, uint z) =>
            r.Dispatch(Bind(q, k, v, partial), in push, x, y, z);
    }

    private sealed class CombineKernel(GpuContext context, DeviceTuning tuning)
        : Kernel<AttentionCombinePush>(context, ShaderId.AttnCombine, [BindingKind.Storage, BindingKind.Storage], [SpecConstant.FromUInt32(0, tuning.AttentionWorkgroup)])
    {
        public void Record(CommandRecorder r, AttentionShape s, BufferRange partial, BufferRange output, uint tokens, uint splits)
        {
            Require(output, (ulong)tokens * (ulong)s.QueryDim, 4, "output");
            Dispatch(r, Bind(partial, output), new AttentionCombinePush((uint)s.HeadDim, splits), (uint)s.Heads, tokens);
        }
    }
}
