using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/subgroup_probe.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct SubgroupProbePush(uint N);

/// <summary>
/// What a probe kernel saw of the device's subgroups, against the size the device reports. Kernels that split work
/// across a subgroup (matvec's rows, every workgroup reduction) are right only where the two agree.
/// </summary>
/// <param name="Reported">The size expected: the device's subgroupSize, or the lanes the kernels require.</param>
/// <param name="Seen">gl_SubgroupSize inside the shader (0 if the invocations disagree).</param>
/// <param name="Covered">Invocations one subgroupAdd covers (0 if the subgroups disagree).</param>
/// <param name="Subgroups">Distinct gl_SubgroupID values in a workgroup of <paramref name="Invocations"/>.</param>
/// <param name="Invocations">The probe's workgroup size.</param>
/// <param name="LanesValid">Every invocation's lane is below the reported size, and each (subgroup, lane) pair is unique.</param>
public sealed record SubgroupProbeResult(uint Reported, uint Seen, uint Covered, int Subgroups, uint Invocations, bool LanesValid)
{
    /// <summary>The subgroups are what the device says: the size seen and covered is the reported one, throughout.</summary>
    public bool Honest => Seen == Reported && Covered == Reported && Subgroups * Reported == Invocations && LanesValid;

    /// <summary>One line for a person: what was seen, and why it matters when it is not honest.</summary>
    public string Describe() => Honest
        ? $"subgroups of {Reported}, as reported"
        : $"the device reports subgroups of {Reported}, but its shaders see {Seen} and subgroup operations cover {Covered} invocations ({Subgroups} subgroup ids in a workgroup of {Invocations}): kernels that split work across a subgroup would compute wrong results on it";

    /// <summary>The result from the probe's output rows (size seen, invocations covered, subgroup id, lane) per invocation.</summary>
    public static SubgroupProbeResult From(uint reported, ReadOnlySpan<uint> rows)
    {
        int n = rows.Length / 4;
        uint seen = rows[0], covered = rows[1];
        var ids = new HashSet<uint>();
        var pairs = new HashSet<(uint, uint)>();
        bool lanesValid = true;
        for (int i = 0; i < n; i++)
        {
            seen = rows[4 * i] == seen ? seen : 0;
            covered = rows[4 * i + 1] == covered ? covered : 0;
            ids.Add(rows[4 * i + 2]);
            lanesValid &= rows[4 * i + 3] < reported && pairs.Add((rows[4 * i + 2], rows[4 * i + 3]));
        }

        return new SubgroupProbeResult(reported, seen, covered, ids.Count, (uint)n, lanesValid);
    }
}

/// <summary>Runs shaders/subgroup_probe.comp on a device (one workgroup of four subgroups).</summary>
public static class SubgroupProbe
{
    /// <summary>Probes the subgroups a kernel that splits work across <paramref name="lanes"/> lanes gets: built as those
    /// kernels are (full subgroups, the size required where the device lets us choose), so a device that reports 32
    /// yet may run 16 is judged on what the kernels ask of it. <paramref name="lanes"/> 0: the reported size, with no
    /// requirement (what a shader gets by default).</summary>
    public static SubgroupProbeResult Run(GpuContext context, uint lanes = 0)
    {
        ArgumentNullException.ThrowIfNull(context);
        DeviceInfo info = context.Info;
        bool asKernels = lanes > 1;
        uint expected = asKernels ? lanes : Math.Max(info.SubgroupSize, 1);
        uint n = Math.Min(4 * expected, info.Limits.MaxComputeWorkGroupInvocations);
        uint required = asKernels ? DeviceTuning.RequiredSubgroupSize(info, lanes, "subgroup_probe") : 0;
        using var kernel = new ProbeKernel(context, n, required, fullSubgroups: asKernels);
        using GpuBuffer output = context.CreateBuffer(n * 16UL, "subgroup probe");
        context.Run(r => kernel.Record(r, output.All, n));
        var rows = new uint[n * 4];
        output.Read<uint>(rows);
        return SubgroupProbeResult.From(expected, rows);
    }

    private sealed class ProbeKernel(GpuContext context, uint n, uint requiredSubgroupSize, bool fullSubgroups)
        : Kernel<SubgroupProbePush>(context, ShaderId.SubgroupProbe, [BindingKind.Storage], [SpecConstant.FromUInt32(0, n)], requiredSubgroupSize, fullSubgroups)
    {
        public void Record(CommandRecorder recorder, BufferRange output, uint invocations)
        {
            Require(output, invocations * 4UL, 4, "output");
            Dispatch(recorder, Bind(output), new SubgroupProbePush(invocations), 1);
        }
    }
}
