using System.Runtime.InteropServices;
using Hunyuan.Vk.Execution;
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
    private readonly uint _workgroup, _lanes;

    public AttentionDecodeKernel(GpuContext context, DeviceTuning tuning, AttentionShape shape, KvCacheFormat format = KvCacheFormat.F16)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(tuning);
        format.CheckHeadDim(shape.HeadDim);
        Shape = shape;
        Format = format;
        Chunk = tuning.AttentionChunk;
        MinSplits = Math.Max(tuning.AttentionMinSplits, 1);
        MaxSplits = Math.Max(tuning.AttentionMaxSplits, MinSplits);
        LoopBudget = tuning.AttentionLoopBudget;
        _workgroup = tuning.AttentionWorkgroup;
        _lanes = tuning.AttentionLanes;
        _split = new SplitKernel(context, tuning, shape, format);
        _combine = new CombineKernel(context, tuning);
    }

    public AttentionShape Shape { get; }
    public KvCacheFormat Format { get; }

    /// <summary>Positions per chunk at most (the shader's shared score array).</summary>
    public uint Chunk { get; }

    /// <summary>Splits a decode step gets at least, when its context has positions enough (<see cref="DeviceTuning.AttentionMinSplits"/>).</summary>
    public uint MinSplits { get; }

    /// <summary>Splits a long context is cut into (<see cref="DeviceTuning.AttentionMaxSplits"/>); past that, splits grow.</summary>
    public uint MaxSplits { get; }

    /// <summary>Loop iterations an invocation may run (<see cref="DeviceTuning.AttentionLoopBudget"/>; 0: no bound).</summary>
    public uint LoopBudget { get; }

    private const uint ChunkStep = 32;   // chunks shrink for short contexts in steps of 32 positions

    /// <summary>Positions per chunk for <paramref name="tokens"/> queries, the last seeing <paramref name="kvLength"/>
    /// positions: <see cref="Chunk"/>, or for one token over a short context less, so it still has
    /// <see cref="MinSplits"/> splits (a GPU needs kv heads x splits workgroups to fill its cores).</summary>
    public uint ChunkFor(uint kvLength, uint tokens = 1)
    {
        if (tokens > 1 || MinSplits == 1)
        {
            return Chunk;
        }

        uint wanted = (kvLength + MinSplits - 1) / MinSplits;
        return Math.Clamp((wanted + ChunkStep - 1) / ChunkStep * ChunkStep, Math.Min(ChunkStep, Chunk), Chunk);
    }

    /// <summary>Chunks one split may take within the loop budget: the shader's loop iterations per chunk counted as if
    /// no loop were unrolled (scores, softmax, outputs), so the bound holds whatever the compiler does.</summary>
    public uint ChunksPerSplitLimit(uint chunk)
    {
        if (LoopBudget == 0)
        {
            return uint.MaxValue;
        }

        bool q8 = Format == KvCacheFormat.Q8;
        ulong group = (ulong)Shape.Group, d = (ulong)Shape.HeadDim, wg = _workgroup, lanes = Math.Max(_lanes, 1);
        ulong perWord = q8 ? 4UL : 2UL, texels = d / (4 * perWord), slots = Up(d / 4, lanes);
        ulong subgroups = Math.Max(1, wg / lanes);
        // Per position: the score loops of one invocation (LANES = 1) or of one subgroup (lanes across the row).
        ulong perPosition = lanes == 1
            ? 1 + 2 * group + (q8 ? d / 32 : d / 8) * (1 + group)
            : 1 + 3 * group + slots * (1 + group);
        ulong scores = Up(chunk, lanes == 1 ? wg : subgroups) * perPosition;
        ulong softmax = group * (1 + 2 * Up(chunk, wg) + 2 * subgroups);
        ulong outputs = Up(texels, wg) * (4 * group + chunk * (1 + group * (1 + perWord)) + group * (1 + perWord));
        ulong perChunk = scores + softmax + outputs + 1;
        ulong once = Up(group * d / 4, wg) + group * (slots + 1) + 2 * group * Up(d / 4, wg) + 64;   // queries in, partials out
        return (uint)Math.Clamp((LoopBudget - Math.Min(LoopBudget, once)) / perChunk, 1, uint.MaxValue);
    }

    private static ulong Up(ulong n, ulong by) => (n + by - 1) / by;

    /// <summary>The split of <paramref name="kvLength"/> positions (the last token's) in pages of
    /// <paramref name="pagePositions"/>: whole chunks per split, <see cref="MaxSplits"/> of them once the context is
    /// long enough, more where the loop budget caps a split; each page split on its own.</summary>
    public AttentionPlan Plan(uint kvLength, uint tokens, uint pagePositions)
    {
        uint chunk = ChunkFor(kvLength, tokens);
        ulong chunks = Up(kvLength, chunk);
        ulong perSplit = Math.Min(Math.Max(1, Up(chunks, MaxSplits)), ChunksPerSplitLimit(chunk));
        ulong span = chunk * perSplit;
        ulong full = kvLength / pagePositions, last = kvLength % pagePositions;
        ulong splits = full * Up(pagePositions, span) + Up(last, span);
        return new AttentionPlan(chunk, (uint)Math.Min(span, uint.MaxValue), (uint)splits);
    }

    /// <summary>Floats the partial-results buffer needs for <paramref name="tokens"/> tokens, the last seeing up to
    /// <paramref name="kvLength"/> positions, in pages of <paramref name="pagePositions"/>: a bound for every shorter
    /// context too (at most max(<see cref="MaxSplits"/>, chunks over the budget's chunks per split) splits, and one
    /// more per page boundary).</summary>
    public ulong PartialFloats(uint kvLength, uint tokens = 1, uint pagePositions = uint.MaxValue)
    {
        ulong chunks = Up(kvLength, Chunk);
        ulong pages = Up(kvLength, pagePositions);
        ulong splits = Math.Max(Math.Max(MaxSplits, MinSplits), Up(chunks, ChunksPerSplitLimit(Chunk))) + pages - 1;
        return Floats(tokens, splits);
    }

    // Partials of `tokens` tokens with `splits` splits each: [tokens][heads][splits][d + 2].
    private ulong Floats(uint tokens, ulong splits) => (ulong)tokens * (ulong)Shape.Heads * splits * (ulong)(Shape.HeadDim + 2);

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
        AttentionPlan plan = Plan(kvLength, tokens, cache.PagePositions);
        _split.Require(q, partial, tokens, Floats(tokens, plan.Splits));
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
