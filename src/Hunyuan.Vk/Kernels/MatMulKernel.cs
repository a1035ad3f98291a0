using System.Runtime.InteropServices;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/include/matmul.glsl.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct MatMulPush(uint Rows, uint Cols, uint Tokens, uint WOffset, uint SOffset, uint Accumulate);

/// <summary>
/// Prefill <c>Y = X W^T</c> (or <c>Y += X W^T</c>) for a batch of tokens (shaders/matmul_*.comp): W a
/// <see cref="DeviceMatrix"/>, X [tokens][cols] and Y [tokens][rows] in storage buffers. Each weight block is
/// dequantized once per <see cref="DeviceTuning.MatMulTokens"/> tokens.
/// </summary>
public sealed class MatMulKernel : Kernel<MatMulPush>
{
    private readonly uint _rowsPerGroup;
    private readonly uint _tokensPerGroup;

    public MatMulKernel(GpuContext context, DeviceTuning tuning, WeightFormat format)
        : base(context, ShaderFor(format), [.. DeviceMatrix.TableBindings(format), BindingKind.Storage, BindingKind.Storage],
            [
                SpecConstant.FromUInt32(0, tuning?.MatMulWorkgroup ?? 0),
                SpecConstant.FromUInt32(1, tuning?.MatMulRows ?? 0),
                SpecConstant.FromUInt32(2, tuning?.MatMulTokens ?? 0),
                SpecConstant.FromUInt32(3, tuning?.MatMulSharedX ?? true ? 1u : 0u),
            ])
    {
        Format = format;
        _rowsPerGroup = tuning!.MatMulWorkgroup * tuning.MatMulRows;
        _tokensPerGroup = tuning.MatMulTokens;
    }

    public WeightFormat Format { get; }

    public void Record(CommandRecorder recorder, DeviceMatrix w, BufferRange x, BufferRange y, uint tokens, bool accumulate = false, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.Format != Format)
        {
            throw new ArgumentException($"{ShaderLibrary.FileName(Shader)} reads {Format}; the matrix is {w.Format}");
        }

        Require(x, (ulong)tokens * (ulong)w.Cols, 4, "x");
        Require(y, (ulong)tokens * (ulong)w.Rows, 4, "y");
        var push = new MatMulPush((uint)w.Rows, (uint)w.Cols, tokens, (uint)index * w.QuantTexelsPerMatrix, (uint)index * w.ScalesPerMatrix, accumulate ? 1u : 0u);
        Dispatch(recorder, Bind([.. w.Tables, x, y]), push, DivideUp((ulong)w.Rows, _rowsPerGroup), DivideUp(tokens, _tokensPerGroup));
    }

    private static ShaderId ShaderFor(WeightFormat format) => format switch
    {
        WeightFormat.F32 => ShaderId.MatmulF32,
        WeightFormat.F16 => ShaderId.MatmulF16,
        WeightFormat.Q8 => ShaderId.MatmulQ8,
        WeightFormat.Q4 => ShaderId.MatmulQ4,
        _ => ShaderId.MatmulQ4z,
    };
}
