using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/matvec_f16.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct MatVecPush(uint Rows, uint Cols);

/// <summary><c>y = W x</c> with W <c>[rows, cols]</c> in f16 and x, y in f32 (shaders/matvec_f16.comp).</summary>
public sealed class MatVecF16Kernel : Kernel<MatVecPush>
{
    private readonly uint _rowsPerGroup;

    public MatVecF16Kernel(GpuContext context, DeviceTuning tuning)
        : base(context, ShaderId.MatvecF16, [BindingKind.Storage, BindingKind.Storage, BindingKind.Storage],
            SpecConstant.FromUInt32(0, tuning?.MatVecWorkgroup ?? 0), SpecConstant.FromUInt32(1, tuning?.MatVecRows ?? 0))
    {
        _rowsPerGroup = tuning!.MatVecRows;
        if (!context.Info.Features.Storage16Bit)
        {
            throw new NotSupportedException($"{context.Info.Name} lacks 16-bit storage, which matvec_f16 needs");
        }
    }

    public void Record(CommandRecorder recorder, BufferRange weight, BufferRange x, BufferRange y, uint rows, uint cols)
    {
        Require(weight, (ulong)rows * cols, 2, "weight");
        Require(x, cols, 4, "x");
        Require(y, rows, 4, "y");
        Dispatch(recorder, Bind(weight, x, y), new MatVecPush(rows, cols), DivideUp(rows, _rowsPerGroup));
    }
}
