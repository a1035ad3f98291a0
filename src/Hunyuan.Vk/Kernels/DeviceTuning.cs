using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>
/// Kernel shapes for one device, passed to shaders as specialization constants. Chosen from the device's type,
/// vendor and subgroup size: GPUs get wide workgroups; lavapipe gets one subgroup per workgroup, since barriers and
/// shared memory turn its invocations into slow coroutines (docs: vulkan-on-lavapipe.md).
/// </summary>
public sealed record DeviceTuning
{
    /// <summary>Invocations per workgroup of elementwise kernels.</summary>
    public required uint ElementwiseWorkgroup { get; init; }

    /// <summary>Invocations per workgroup of row reductions (RMSNorm): one workgroup per row.</summary>
    public required uint NormWorkgroup { get; init; }

    /// <summary>Invocations per workgroup of matrix-vector products; they split the columns.</summary>
    public required uint MatVecWorkgroup { get; init; }

    /// <summary>Rows of the matrix per matrix-vector workgroup.</summary>
    public required uint MatVecRows { get; init; }

    public static DeviceTuning For(DeviceInfo device)
    {
        ArgumentNullException.ThrowIfNull(device);
        uint subgroup = Math.Max(device.SubgroupSize, 1);
        uint maxInvocations = device.Limits.MaxComputeWorkGroupInvocations;
        DeviceTuning t = (device.Type, device.Vendor) switch
        {
            ("cpu", _) => new() { ElementwiseWorkgroup = 64, NormWorkgroup = subgroup, MatVecWorkgroup = subgroup, MatVecRows = 4 },
            (_, "NVIDIA") => new() { ElementwiseWorkgroup = 256, NormWorkgroup = 256, MatVecWorkgroup = 32, MatVecRows = 2 },
            (_, "AMD") => new() { ElementwiseWorkgroup = 256, NormWorkgroup = 256, MatVecWorkgroup = 64, MatVecRows = 2 },
            (_, "Intel") => new() { ElementwiseWorkgroup = 256, NormWorkgroup = 128, MatVecWorkgroup = 32, MatVecRows = 2 },
            _ => new() { ElementwiseWorkgroup = 256, NormWorkgroup = 128, MatVecWorkgroup = Math.Max(subgroup, 32), MatVecRows = 2 },
        };
        return t with
        {
            ElementwiseWorkgroup = Math.Min(t.ElementwiseWorkgroup, maxInvocations),
            NormWorkgroup = Math.Min(t.NormWorkgroup, maxInvocations),
            MatVecWorkgroup = Math.Min(t.MatVecWorkgroup, maxInvocations),
        };
    }
}
