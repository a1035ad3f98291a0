using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/argmax.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct ArgmaxPush(uint N, uint Slot);

/// <summary>Greedy token choice on the GPU: tokens[slot] = argmax(logits), ties to the lower index (shaders/argmax.comp).</summary>
internal sealed class ArgmaxKernel : Kernel<ArgmaxPush>
{
    public ArgmaxKernel(GpuContext context, DeviceTuning tuning)
        : base(context, ShaderId.Argmax, [BindingKind.Storage, BindingKind.Storage], [SpecConstant.FromUInt32(0, Tuned(tuning).ReductionWorkgroup)])
    {
    }

    public void Record(CommandRecorder recorder, BufferRange logits, BufferRange tokens, uint n, uint slot = 0)
    {
        Require(logits, n, 4, "logits");
        Require(tokens, (ulong)slot + 1, 4, "tokens");
        Dispatch(recorder, Bind(logits, tokens), new ArgmaxPush(n, slot), 1);
    }
}
