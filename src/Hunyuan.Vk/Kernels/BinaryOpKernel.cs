using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

internal enum BinaryOp
{
    Add = 0,
    Multiply = 1,
}

/// <summary>Push constants of shaders/binary_op.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct BinaryOpPush(uint N);

/// <summary>Elementwise <c>c = a + b</c> or <c>c = a * b</c> over f32 vectors (shaders/binary_op.comp).</summary>
internal sealed class BinaryOpKernel : Kernel<BinaryOpPush>
{
    private const uint MaxGroups = 65535;
    private readonly uint _workgroup;

    public BinaryOpKernel(GpuContext context, DeviceTuning tuning, BinaryOp op)
        : base(context, ShaderId.BinaryOp, [BindingKind.Storage, BindingKind.Storage, BindingKind.Storage],
            [SpecConstant.FromUInt32(0, Tuned(tuning).ElementwiseWorkgroup), SpecConstant.FromUInt32(1, (uint)op)])
    {
        _workgroup = tuning.ElementwiseWorkgroup;
        Op = op;
    }

    public BinaryOp Op { get; }

    /// <summary>Records <c>c[i] = a[i] op b[i]</c> for i in [0, n).</summary>
    public void Record(CommandRecorder recorder, BufferRange a, BufferRange b, BufferRange c, uint n)
    {
        Require(a, n, 4, "a");
        Require(b, n, 4, "b");
        Require(c, n, 4, "c");
        Dispatch(recorder, Bind(a, b, c), new BinaryOpPush(n), Math.Min(DivideUp(n, _workgroup), MaxGroups));
    }
}
