using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/repetition_penalty.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct RepetitionPenaltyPush(uint Count, float Penalty);

/// <summary>
/// Repetition penalty on the logits of the tokens in a history buffer (shaders/repetition_penalty.comp): two passes
/// with a barrier, so a token that occurs many times is penalised once.
/// </summary>
internal sealed class RepetitionPenaltyKernel : IDisposable
{
    private readonly Pass _compute;
    private readonly Pass _write;
    private readonly uint _workgroup;

    public RepetitionPenaltyKernel(GpuContext context, DeviceTuning tuning)
    {
        ArgumentNullException.ThrowIfNull(tuning);
        _workgroup = tuning.ElementwiseWorkgroup;
        _compute = new Pass(context, tuning, 0);
        _write = new Pass(context, tuning, 1);
    }

    /// <summary>Records the penalty for history[0..count); scratch holds at least count floats.</summary>
    public void Record(CommandRecorder recorder, BufferRange logits, BufferRange history, BufferRange scratch, uint count, float penalty)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        if (count == 0 || penalty == 1f)
        {
            return;
        }

        if (!(penalty > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(penalty), $"repetition penalty {penalty} must be positive");
        }

        var push = new RepetitionPenaltyPush(count, penalty);
        uint groups = (count + _workgroup - 1) / _workgroup;
        _compute.Record(recorder, logits, history, scratch, push, groups);
        _write.Record(recorder, logits, history, scratch, push, groups);
    }

    public void Dispose()
    {
        _compute.Dispose();
        _write.Dispose();
    }

    private sealed class Pass(GpuContext context, DeviceTuning tuning, uint pass)
        : Kernel<RepetitionPenaltyPush>(context, ShaderId.RepetitionPenalty, [BindingKind.Storage, BindingKind.Storage, BindingKind.Storage],
            [SpecConstant.FromUInt32(0, tuning.ElementwiseWorkgroup), SpecConstant.FromUInt32(1, pass)])
    {
        public void Record(CommandRecorder r, BufferRange logits, BufferRange history, BufferRange scratch, RepetitionPenaltyPush push, uint groups)
        {
            Require(history, push.Count, 4, "history");
            Require(scratch, push.Count, 4, "scratch");
            Dispatch(r, Bind(logits, history, scratch), push, groups);
        }
    }
}
