using System.Runtime.InteropServices;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/include/matvec.glsl.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct MatVecPush(uint Rows, uint Cols, uint WOffset, uint SOffset, uint YOffset, uint Accumulate);

/// <summary>
/// <c>y = W x</c> (or <c>y += W x</c>) for one weight format (shaders/matvec_*.comp): W a <see cref="DeviceMatrix"/>,
/// x in a uniform buffer (at most 16384 floats), y in a storage buffer. Decode's main kernel.
/// </summary>
public sealed class MatVecKernel : Kernel<MatVecPush>
{
    private readonly uint _rowsPerGroup;

    public MatVecKernel(GpuContext context, DeviceTuning tuning, WeightFormat format, uint cols)
        : base(context, ShaderFor(format), Bindings(format), Specialization(tuning, cols), SubgroupFor(context, tuning))
    {
        Format = format;
        _rowsPerGroup = tuning!.MatVecRows * (tuning.MatVecWorkgroup / tuning.MatVecLanes);
        RequiredSubgroup = tuning.MatVecLanes > 1 ? tuning.MatVecLanes : 0;
    }

    // Lanes > 1 sum with subgroupAdd, so a subgroup must be exactly one row group: require that size where the
    // device lets us choose, else it must be the device's (fixed) size.
    private static uint SubgroupFor(GpuContext context, DeviceTuning tuning)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(tuning);
        uint lanes = tuning.MatVecLanes;
        DeviceInfo d = context.Info;
        if (lanes <= 1 || (d.MinSubgroupSize == d.MaxSubgroupSize && d.SubgroupSize == lanes))
        {
            return 0;
        }

        return d.Features.SubgroupSizeControl && lanes >= d.MinSubgroupSize && lanes <= d.MaxSubgroupSize
            ? lanes
            : throw new NotSupportedException($"matvec needs subgroups of {lanes} on {d.Name}, which it cannot guarantee");
    }

    public WeightFormat Format { get; }

    /// <summary>The subgroup size the kernel relies on (0: none).</summary>
    public uint RequiredSubgroup { get; }

    /// <summary>Records y[yOffset + r] (+)= (W_index x)[r] for every row r of matrix <paramref name="index"/> of <paramref name="w"/>.</summary>
    public void Record(CommandRecorder recorder, DeviceMatrix w, BufferRange x, BufferRange y, bool accumulate = false, uint yOffset = 0, int index = 0)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.Format != Format)
        {
            throw new ArgumentException($"{ShaderLibrary.FileName(Shader)} reads {Format}; the matrix is {w.Format}");
        }

        Require(x, (ulong)w.Cols, 4, "x");
        Require(y, (ulong)yOffset + (ulong)w.Rows, 4, "y");
        var push = new MatVecPush((uint)w.Rows, (uint)w.Cols, (uint)index * w.QuantTexelsPerMatrix, (uint)index * w.ScalesPerMatrix, yOffset, accumulate ? 1u : 0u);
        Dispatch(recorder, Bind(Resources(w, x, y)), push, DivideUp((ulong)w.Rows, _rowsPerGroup));
    }

    private static BindingResource[] Resources(DeviceMatrix w, BufferRange x, BufferRange y) => w.Format switch
    {
        WeightFormat.F32 or WeightFormat.F16 => [w.Quants, x, y],
        WeightFormat.Q4Z => [w.Quants, w.Scales!, w.Zeros!, x, y],
        _ => [w.Quants, w.Scales!, x, y],
    };

    private static ShaderId ShaderFor(WeightFormat format) => format switch
    {
        WeightFormat.F32 => ShaderId.MatvecF32,
        WeightFormat.F16 => ShaderId.MatvecF16,
        WeightFormat.Q8 => ShaderId.MatvecQ8,
        WeightFormat.Q4 => ShaderId.MatvecQ4,
        _ => ShaderId.MatvecQ4z,
    };

    private static BindingKind[] Bindings(WeightFormat format)
    {
        int tables = format switch { WeightFormat.Q4Z => 3, WeightFormat.Q8 or WeightFormat.Q4 => 2, _ => 1 };
        return [.. Enumerable.Repeat(BindingKind.UniformTexel, tables), BindingKind.Uniform, BindingKind.Storage];
    }

    private static SpecConstant[] Specialization(DeviceTuning tuning, uint cols)
    {
        ArgumentNullException.ThrowIfNull(tuning);
        return
        [
            SpecConstant.FromUInt32(0, tuning.MatVecWorkgroup),
            SpecConstant.FromUInt32(1, tuning.MatVecRows),
            SpecConstant.FromUInt32(2, tuning.MatVecLanes),
            SpecConstant.FromUInt32(3, tuning.MatVecSharedX ? cols / 4 : 0),
        ];
    }
}
