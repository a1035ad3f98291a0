using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/topk.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct TopKPush(uint N, uint K, uint Chunk, uint ReadIds);

/// <summary>Push constants of shaders/sample.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct SamplePush(uint K, float Temperature, float TopP, float U, uint Slot);

/// <summary>
/// Top-k / top-p sampling on the GPU in three dispatches, so only the chosen token id ever needs to reach the host:
/// top-k of each chunk of the logits (shaders/topk.comp, one workgroup per chunk), top-k of those candidates (the same
/// shader, one workgroup), then temperature softmax, nucleus and the pick by a host-supplied uniform
/// (shaders/sample.comp). Owns its scratch buffers, sized for <c>maxLogits</c> and <see cref="MaxK"/>.
/// </summary>
internal sealed class Sampler : IDisposable
{
    public const int MaxK = 64;
    private const uint Chunk = 4096;   // with k <= 64, at most 64 * 4096 / 8 loop iterations per invocation on lavapipe
    private readonly TopKKernel _topK;
    private readonly PickKernel _pick;
    private readonly GpuBuffer _scratch;
    private readonly uint _chunks;

    public Sampler(GpuContext context, DeviceTuning tuning, uint maxLogits)
    {
        ArgumentNullException.ThrowIfNull(context);
        _chunks = (maxLogits + Chunk - 1) / Chunk;
        _topK = new TopKKernel(context, tuning);
        _pick = new PickKernel(context);
        _scratch = context.CreateBuffer(ScratchBytes(maxLogits), "sampler scratch");
        MaxLogits = maxLogits;
    }

    public uint MaxLogits { get; }

    /// <summary>Bytes of the scratch buffer for <paramref name="maxLogits"/> logits: [chunks * K] values | [chunks * K]
    /// ids | [K] values | [K] ids | [K] probabilities.</summary>
    public static ulong ScratchBytes(uint maxLogits) => (2UL * ((maxLogits + Chunk - 1) / Chunk) * MaxK + 3 * MaxK) * 4;

    /// <summary>The candidates' probabilities after the last <see cref="Record"/> ([K] floats; 0 outside the nucleus).</summary>
    public BufferRange Probabilities => _scratch.Slice((ulong)(2 * _chunks * MaxK + 2 * MaxK) * 4, MaxK * 4);

    /// <summary>The candidates' ids, best first ([K] uints).</summary>
    public BufferRange CandidateIds => _scratch.Slice((ulong)(2 * _chunks * MaxK + MaxK) * 4, MaxK * 4);

    /// <summary>Records the sampling of tokens[slot] from <paramref name="n"/> logits.</summary>
    public void Record(CommandRecorder recorder, BufferRange logits, BufferRange tokens, uint n, int topK, float temperature, float topP, float u, uint slot = 0)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        if (n == 0 || n > MaxLogits)
        {
            throw new ArgumentOutOfRangeException(nameof(n), $"{n} logits; the sampler was made for at most {MaxLogits}");
        }

        if (topK < 1 || topK > MaxK || topK > n)
        {
            throw new ArgumentOutOfRangeException(nameof(topK), $"top-k {topK}: the GPU sampler keeps 1..{MaxK} candidates");
        }

        if (!(temperature > 0) || !(topP > 0 && topP <= 1) || !(u >= 0 && u < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), $"temperature {temperature} must be > 0, top-p {topP} in (0, 1], u {u} in [0, 1)");
        }

        uint chunks = (n + Chunk - 1) / Chunk, k = (uint)topK, all = _chunks * MaxK * 4;
        BufferRange stage1Values = _scratch.Slice(0, all), stage1Ids = _scratch.Slice(all, all);
        BufferRange finalValues = _scratch.Slice(2UL * all, MaxK * 4);
        _topK.Record(recorder, logits, logits, stage1Values, stage1Ids, new TopKPush(n, k, Chunk, 0), chunks);
        _topK.Record(recorder, stage1Values, stage1Ids, finalValues, CandidateIds, new TopKPush(chunks * k, k, chunks * k, 1), 1);
        _pick.Record(recorder, finalValues, CandidateIds, tokens, Probabilities, new SamplePush(k, temperature, topP, u, slot));
    }

    public void Dispose()
    {
        _topK.Dispose();
        _pick.Dispose();
        _scratch.Dispose();
    }

    private sealed class TopKKernel(GpuContext context, DeviceTuning tuning)
        : Kernel<TopKPush>(context, ShaderId.Topk, [.. Enumerable.Repeat(BindingKind.Storage, 4)], [SpecConstant.FromUInt32(0, Tuned(tuning).ReductionWorkgroup)])
    {
        public void Record(CommandRecorder r, BufferRange values, BufferRange ids, BufferRange outValues, BufferRange outIds, TopKPush push, uint groups)
        {
            Require(values, push.N, 4, "values");
            Require(outValues, (ulong)groups * push.K, 4, "out values");
            Dispatch(r, Bind(values, ids, outValues, outIds), push, groups);
        }
    }

    private sealed class PickKernel(GpuContext context)
        : Kernel<SamplePush>(context, ShaderId.Sample, [.. Enumerable.Repeat(BindingKind.Storage, 4)], [])
    {
        public void Record(CommandRecorder r, BufferRange values, BufferRange ids, BufferRange tokens, BufferRange probs, SamplePush push)
        {
            Require(tokens, (ulong)push.Slot + 1, 4, "tokens");
            Dispatch(r, Bind(values, ids, tokens, probs), push, 1);
        }
    }
}
