using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/rope_norm_kv.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct RopeNormKvPush(uint Heads, uint KvHeads, uint HeadDim, uint Position0, float Eps, uint UseNorm);

/// <summary>Push constants of shaders/attn_decode.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct AttentionDecodePush(uint KvHeads, uint HeadDim, uint Position0, uint MaxSplits, float Scale, uint Chunk);

/// <summary>Push constants of shaders/attn_combine.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct AttentionCombinePush(uint HeadDim, uint MaxSplits, uint Position0, uint Chunk);

/// <summary>The attention shape of a model.</summary>
internal sealed record AttentionShape(int Heads, int KvHeads, int HeadDim)
{
    public int QueryDim => Heads * HeadDim;
    public int KvDim => KvHeads * HeadDim;
    public int QkvDim => QueryDim + 2 * KvDim;
    public int Group => Heads / KvHeads;
}

/// <summary>
/// RoPE (NeoX, fp32 angles) then per-head QK RMSNorm, q out, k and v appended to the f16 KV cache
/// (shaders/rope_norm_kv.comp), for a batch of tokens at consecutive positions.
/// </summary>
internal sealed class RopeNormKvKernel : Kernel<RopeNormKvPush>
{
    public RopeNormKvKernel(GpuContext context, DeviceTuning tuning)
        : base(context, ShaderId.RopeNormKv, [.. Enumerable.Repeat(BindingKind.Storage, 7)], [SpecConstant.FromUInt32(0, Tuned(tuning).NormWorkgroup)])
    {
    }

    /// <summary>The per-pair inverse frequencies base^(-2i/d), rounded to fp32 as the official code computes them.</summary>
    public static float[] InverseFrequencies(int headDim, double ropeBase) =>
        [.. Enumerable.Range(0, headDim / 2).Select(i => (float)Math.Pow(ropeBase, -2.0 * i / headDim))];

    public void Record(CommandRecorder recorder, AttentionShape shape, BufferRange qkv, BufferRange invFreq, BufferRange? qNorm, BufferRange? kNorm,
        BufferRange qOut, BufferRange kCache, BufferRange vCache, uint tokens, uint position0, float eps)
    {
        ArgumentNullException.ThrowIfNull(shape);
        Require(qkv, (ulong)tokens * (ulong)shape.QkvDim, 4, "qkv");
        Require(invFreq, (ulong)shape.HeadDim / 2, 4, "inv_freq");
        Require(qOut, (ulong)tokens * (ulong)shape.QueryDim, 4, "q_out");
        Require(kCache, (ulong)(position0 + tokens) * (ulong)shape.KvDim, 2, "k_cache");
        Require(vCache, (ulong)(position0 + tokens) * (ulong)shape.KvDim, 2, "v_cache");
        bool norm = qNorm is not null && kNorm is not null;
        var push = new RopeNormKvPush((uint)shape.Heads, (uint)shape.KvHeads, (uint)shape.HeadDim, position0, eps, norm ? 1u : 0u);
        // Without QK-norm the weights are not read; bind the frequencies in their place.
        DescriptorBinding set = Bind(qkv, invFreq, qNorm ?? invFreq, kNorm ?? invFreq, qOut, kCache, vCache);
        Dispatch(recorder, set, push, (uint)(shape.Heads + 2 * shape.KvHeads), tokens);
    }
}

/// <summary>
/// Attention over the KV cache: split over positions (shaders/attn_decode.comp), then merged per head and token
/// (shaders/attn_combine.comp). Two dispatches with a barrier between. One token is decode; a batch of tokens at
/// consecutive positions is causal prefill (token t sees positions up to its own).
/// </summary>
internal sealed class AttentionDecodeKernel : IDisposable
{
    private readonly SplitKernel _split;
    private readonly CombineKernel _combine;

    public AttentionDecodeKernel(GpuContext context, DeviceTuning tuning, AttentionShape shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(tuning);
        Shape = shape;
        Chunk = tuning.AttentionChunk;
        MinSplits = Math.Max(tuning.AttentionMinSplits, 1);
        _split = new SplitKernel(context, tuning, (uint)shape.Group);
        _combine = new CombineKernel(context, tuning);
    }

    public AttentionShape Shape { get; }

    /// <summary>Positions per split at most (the shader's shared score array).</summary>
    public uint Chunk { get; }

    /// <summary>Splits a decode step gets at least, when its context has positions enough (<see cref="DeviceTuning.AttentionMinSplits"/>).</summary>
    public uint MinSplits { get; }

    private const uint ChunkStep = 32;   // chunks shrink for short contexts in steps of 32 positions

    /// <summary>Positions per split for <paramref name="tokens"/> queries, the last seeing <paramref name="kvLength"/>
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

    public uint Splits(uint kvLength, uint tokens = 1)
    {
        uint chunk = ChunkFor(kvLength, tokens);
        return (kvLength + chunk - 1) / chunk;
    }

    /// <summary>Floats the partial-results buffer needs for <paramref name="tokens"/> tokens, the last seeing up to
    /// <paramref name="kvLength"/> positions (a bound for every shorter context too: a decode step has at most
    /// max(<see cref="MinSplits"/>, kvLength / <see cref="Chunk"/>) splits).</summary>
    public ulong PartialFloats(uint kvLength, uint tokens = 1)
    {
        uint splits = (kvLength + Chunk - 1) / Chunk;
        if (tokens == 1)
        {
            splits = Math.Max(splits, Math.Max(Splits(kvLength), MinSplits));
        }

        return Floats(tokens, splits);
    }

    // Partials of `tokens` tokens with `splits` splits each: [tokens][heads][splits][d + 2].
    private ulong Floats(uint tokens, uint splits) => (ulong)tokens * (ulong)Shape.Heads * splits * (ulong)(Shape.HeadDim + 2);

    /// <summary>Decode: one query (q [heads * d]) over <paramref name="kvLength"/> cached positions.</summary>
    public void Record(CommandRecorder recorder, BufferRange q, BufferRange kCache, BufferRange vCache, BufferRange partial, BufferRange output, uint kvLength)
    {
        if (kvLength == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(kvLength), "attention over an empty cache");
        }

        RecordBatch(recorder, q, kCache, vCache, partial, output, tokens: 1, position0: kvLength - 1);
    }

    /// <summary>Causal attention for <paramref name="tokens"/> queries (q [tokens][heads * d]) at positions
    /// <paramref name="position0"/> onwards, whose K and V are already in the cache.</summary>
    public void RecordBatch(CommandRecorder recorder, BufferRange q, BufferRange kCache, BufferRange vCache, BufferRange partial, BufferRange output, uint tokens, uint position0)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        if (tokens == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), "attention for no tokens");
        }

        uint kvLength = position0 + tokens, chunk = ChunkFor(kvLength, tokens), splits = Splits(kvLength, tokens);
        _split.Record(recorder, Shape, q, kCache, vCache, partial, tokens, position0, splits, chunk, Floats(tokens, splits));
        _combine.Record(recorder, Shape, partial, output, tokens, position0, splits, chunk);
    }

    public void Dispose()
    {
        _split.Dispose();
        _combine.Dispose();
    }

    private sealed class SplitKernel(GpuContext context, DeviceTuning tuning, uint group)
        : Kernel<AttentionDecodePush>(context, ShaderId.AttnDecode, [.. Enumerable.Repeat(BindingKind.Storage, 4)],
            [
                SpecConstant.FromUInt32(0, tuning.AttentionWorkgroup), SpecConstant.FromUInt32(1, tuning.AttentionChunk), SpecConstant.FromUInt32(2, group),
                SpecConstant.FromUInt32(3, tuning.AttentionLanes),
            ],
            DeviceTuning.RequiredSubgroupSize(context.Info, tuning.AttentionLanes, "attn_decode"), fullSubgroups: tuning.AttentionLanes > 1)
    {
        public void Record(CommandRecorder r, AttentionShape s, BufferRange q, BufferRange k, BufferRange v, BufferRange partial, uint tokens, uint position0, uint splits, uint chunk, ulong partialFloats)
        {
            Require(q, (ulong)tokens * (ulong)s.QueryDim, 4, "q");
            Require(k, (ulong)(position0 + tokens) * (ulong)s.KvDim, 2, "k_cache");
            Require(v, (ulong)(position0 + tokens) * (ulong)s.KvDim, 2, "v_cache");
            Require(partial, partialFloats, 4, "partial");
            var push = new AttentionDecodePush((uint)s.KvHeads, (uint)s.HeadDim, position0, splits, 1f / MathF.Sqrt(s.HeadDim), chunk);
            r.Dispatch(Bind(q, k, v, partial), in push, (uint)s.KvHeads, splits, tokens);
        }
    }

    private sealed class CombineKernel(GpuContext context, DeviceTuning tuning)
        : Kernel<AttentionCombinePush>(context, ShaderId.AttnCombine, [BindingKind.Storage, BindingKind.Storage], [SpecConstant.FromUInt32(0, tuning.AttentionWorkgroup)])
    {
        public void Record(CommandRecorder r, AttentionShape s, BufferRange partial, BufferRange output, uint tokens, uint position0, uint splits, uint chunk)
        {
            Require(output, (ulong)tokens * (ulong)s.QueryDim, 4, "output");
            Dispatch(r, Bind(partial, output), new AttentionCombinePush((uint)s.HeadDim, splits, position0, chunk), (uint)s.Heads, tokens);
        }
    }
}
