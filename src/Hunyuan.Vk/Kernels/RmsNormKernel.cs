using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/rms_norm.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct RmsNormPush(uint N, float Eps);

/// <summary>RMSNorm of each row of x (<c>[rows, n]</c>) with weight w (<c>[n]</c>) into y (shaders/rms_norm.comp).</summary>
internal sealed class RmsNormKernel : Kernel<RmsNormPush>
{
    public RmsNormKernel(GpuContext context, DeviceTuning tuning)
        : base(context, ShaderId.RmsNorm, [BindingKind.Storage, BindingKind.Storage, BindingKind.Storage],
            [SpecConstant.FromUInt32(0, Tuned(tuning).NormWorkgroup)])
    {
    }

    public void Record(CommandRecorder recorder, BufferRange x, BufferRange weight, BufferRange y, uint rows, uint n, float eps)
    {
        Require(x, (ulong)rows * n, 4, "x");
        Require(weight, n, 4, "weight");
        Require(y, (ulong)rows * n, 4, "y");
        Dispatch(recorder, Bind(x, weight, y), new RmsNormPush(n, eps), rows);
    }
}
