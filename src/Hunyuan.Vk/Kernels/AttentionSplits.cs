using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Kernels;

/// <summary>
/// How attention splits a context across workgroups (shaders/attn_decode.comp): positions per chunk, chunks per split
/// within the device's loop budget, splits per page, and so the partial results a call needs. It is the device's
/// tuning and the model's attention shape alone, with no pipeline, so the memory estimate and the buffers read the
/// same rule as the kernel records.
/// </summary>
internal sealed class AttentionSplits
{
    public AttentionSplits(DeviceTuning tuning, AttentionShape shape, KvCacheFormat format)
    {
        ArgumentNullException.ThrowIfNull(tuning);
        ArgumentNullException.ThrowIfNull(shape);
        format.CheckHeadDim(shape.HeadDim);
        Shape = shape;
        Format = format;
        Chunk = tuning.AttentionChunk;
        MinSplits = Math.Max(tuning.AttentionMinSplits, 1);
        MaxSplits = Math.Max(tuning.AttentionMaxSplits, MinSplits);
        LoopBudget = tuning.AttentionLoopBudget;
        Workgroup = tuning.AttentionWorkgroup;
        Lanes = tuning.AttentionLanes;
    }

    public AttentionShape Shape { get; }
    public KvCacheFormat Format { get; }

    /// <summary>Invocations per workgroup and lanes per head row of the split kernel (its loop counts depend on them).</summary>
    public uint Workgroup { get; }
    public uint Lanes { get; }


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
        ulong group = (ulong)Shape.Group, d = (ulong)Shape.HeadDim, wg = Workgroup, lanes = Math.Max(Lanes, 1);
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
    internal ulong Floats(uint tokens, ulong splits) => (ulong)tokens * (ulong)Shape.Heads * splits * (ulong)(Shape.HeadDim + 2);
}
