using System.Runtime.InteropServices;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/include/matmul.glsl.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct MatMulPush(uint Rows, uint Cols, uint Tokens, uint WOffset, uint SOffset, uint Accumulate, uint WStride, uint SStride, uint FirstExpert);

/// <summary>What a prefill matrix kernel computes (shaders/include/matmul.glsl).</summary>
internal enum MatMulMode
{
    /// <summary>Y (+)= X W^T.</summary>
    Plain,

    /// <summary>MoE gate/up grouped by expert: rows of X are each expert's listed tokens; SwiGLU epilogue.</summary>
    GatherGateUp,

    /// <summary>MoE down grouped by expert: rows of X are the entries' activations; one partial per entry.</summary>
    GatherDown,
}

/// <summary>
/// Prefill <c>Y = X W^T</c> (or <c>Y += X W^T</c>) for a batch of tokens (shaders/include/matmul.glsl, per format and mode): W a
/// <see cref="DeviceMatrix"/>, X [tokens][cols] and Y [tokens][rows] in storage buffers. Each weight block is
/// dequantized once per <see cref="DeviceTuning.MatMulTokens"/> tokens.
/// </summary>
internal sealed class MatMulKernel : Kernel<MatMulPush>
{
    private readonly uint _rowsPerGroup;
    private readonly uint _tokensPerGroup;

    public MatMulKernel(GpuContext context, DeviceTuning tuning, WeightFormat format, MatMulMode mode = MatMulMode.Plain)
        : base(context, ShaderFor(format, mode),
            [.. DeviceMatrix.TableBindings(format), .. Enumerable.Repeat(BindingKind.Storage, mode switch { MatMulMode.Plain => 2, MatMulMode.GatherDown => 3, _ => 4 })],
            [
                SpecConstant.FromUInt32(0, Tuned(tuning).MatMulWorkgroup),
                SpecConstant.FromUInt32(1, Tuned(tuning).MatMulRows),
                SpecConstant.FromUInt32(2, Tuned(tuning).MatMulTokens),
                SpecConstant.FromUInt32(3, Tuned(tuning).MatMulSharedX ? 1u : 0u),
                SpecConstant.FromUInt32(4, TilesW(tuning, context.Info.Limits, format) ? 1u : 0u),
            ])
    {
        if (mode == MatMulMode.GatherGateUp && tuning.MatMulRows % 2 != 0)
        {
            throw new ArgumentException($"{ShaderLibrary.FileName(Shader)}: rows per invocation ({tuning.MatMulRows}) must be even: gate and up rows come in pairs");
        }

        Format = format;
        Mode = mode;
        _rowsPerGroup = tuning.MatMulWorkgroup * tuning.MatMulRows;
        _tokensPerGroup = tuning.MatMulTokens;
    }

    public WeightFormat Format { get; }

    public MatMulMode Mode { get; }

    /// <summary>Whether the kernel stages coalesced weight tiles (<see cref="DeviceTuning.MatMulTileW"/>): only where
    /// the tile and the tokens' x fit the device's compute shared memory; else each invocation reads its own rows.</summary>
    public static bool TilesW(DeviceTuning tuning, DeviceLimits limits, WeightFormat format)
    {
        ArgumentNullException.ThrowIfNull(tuning);
        ArgumentNullException.ThrowIfNull(limits);
        return tuning.MatMulTileW && SharedBytes(tuning, format) <= limits.MaxComputeSharedMemory;
    }

    // Shared memory of the tiled shape (shaders/include/matmul.glsl): the weight tile, rows x max(4, a block's texels)
    // texels of 16 bytes; the x tile, tokens x those texels' blocks x 32 floats; and the one-element s_x.
    private static ulong SharedBytes(DeviceTuning tuning, WeightFormat format)
    {
        int blockTexels = format.Spec().BlockBytes / WeightFormatSpec.QuantTexelBytes;
        int tileTexels = Math.Max(4, blockTexels), tileBlocks = tileTexels / blockTexels;
        return (ulong)tuning.MatMulWorkgroup * tuning.MatMulRows * (ulong)tileTexels * 16 + (ulong)tuning.MatMulTokens * (ulong)tileBlocks * 32 * 4 + 8 * 16;
    }

    public void Record(CommandRecorder recorder, DeviceMatrix w, BufferRange x, BufferRange y, uint tokens, bool accumulate = false, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.Format != Format)
        {
            throw new ArgumentException($"{ShaderLibrary.FileName(Shader)} reads {Format}; the matrix is {w.Format}");
        }

        if (Mode != MatMulMode.Plain)
        {
            throw new InvalidOperationException($"{ShaderLibrary.FileName(Shader)} is grouped: use RecordGrouped");
        }

        Require(x, (ulong)tokens * (ulong)w.Cols, 4, "x");
        Require(y, (ulong)tokens * (ulong)w.Rows, 4, "y");
        (DeviceMatrixPart part, int local) = w.Locate(index);
        var push = new MatMulPush((uint)w.Rows, (uint)w.Cols, tokens, (uint)local * w.QuantTexelsPerMatrix, (uint)local * w.ScalesPerMatrix, accumulate ? 1u : 0u, 0, 0, 0);
        var list = new ResourceList();
        Dispatch(recorder, Bind(ResourceList.Join(ref list, part.Tables, x, y)), push, DivideUp((ulong)w.Rows, _rowsPerGroup), DivideUp(tokens, _tokensPerGroup));
        recorder.AddStreamedBytes(w.BytesPerMatrix);
    }

    /// <summary>
    /// Records the grouped MoE product over all <see cref="DeviceMatrix.Count"/> stacked experts (grid z), each over the
    /// tokens <see cref="MoeGroupKernel"/> listed for it. <paramref name="maxPerExpert"/> bounds any expert's list (the
    /// batch's token count): tiles past an expert's count exit at once. <paramref name="entries"/> (the listed tokens) is
    /// read by the gate/up product only.
    /// </summary>
    public void RecordGrouped(CommandRecorder recorder, DeviceMatrix w, BufferRange x, BufferRange y, BufferRange group, BufferRange entries, uint maxPerExpert)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        ArgumentNullException.ThrowIfNull(w);
        if (Mode == MatMulMode.Plain || w.Format != Format)
        {
            throw new InvalidOperationException($"{ShaderLibrary.FileName(Shader)} cannot run a grouped {w.Format} product");
        }

        if (Mode == MatMulMode.GatherGateUp && w.Rows % 2 != 0)
        {
            throw new ArgumentException($"{ShaderLibrary.FileName(Shader)}: gate/up rows ({w.Rows}) must be even");
        }

        Require(group, MoeGroupKernel.GroupUints, 4, "group");
        foreach (DeviceMatrixPart part in w.Parts)   // a split stack: one dispatch per part, grid z its experts
        {
            var push = new MatMulPush((uint)w.Rows, (uint)w.Cols, 0, 0, 0, 0, w.QuantTexelsPerMatrix, w.ScalesPerMatrix, (uint)part.First);
            var list = new ResourceList();
            ReadOnlySpan<BindingResource> resources = Mode == MatMulMode.GatherGateUp
                ? ResourceList.Join(ref list, part.Tables, x, y, group, entries)
                : ResourceList.Join(ref list, part.Tables, x, y, group);
            recorder.Dispatch(Bind(resources), in push, DivideUp((ulong)w.Rows, _rowsPerGroup), DivideUp(maxPerExpert, _tokensPerGroup), (uint)part.Count);
        }
    }

    private static ShaderId ShaderFor(WeightFormat format, MatMulMode mode) => ShaderLibrary.For(mode switch
    {
        MatMulMode.Plain => "matmul",
        MatMulMode.GatherGateUp => "moe_prefill_gate_up",
        MatMulMode.GatherDown => "moe_prefill_down",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    }, format);
}
