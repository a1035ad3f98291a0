using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

/// <summary>The tuning table: rows by name, and the split-row matvec only where a device can guarantee its subgroups.</summary>
public sealed class DeviceTuningTests : VulkanTest
{
    [Test]
    public void A_row_can_be_forced_by_name_and_an_unknown_one_is_refused()
    {
        foreach (string row in DeviceTuning.Rows)
        {
            Assert.That(DeviceTuning.For(Context.Info, row).Row, Is.EqualTo(row));
        }

        Assert.That(DeviceTuning.For(Context.Info, "NVIDIA").MatVecLanes, Is.EqualTo(Context.Info.SubgroupSize), "names are case-blind");
        Assert.That(() => DeviceTuning.For(Context.Info, "voodoo"), Throws.ArgumentException.With.Message.Contains("HYVK_TUNING").And.Message.Contains("nvidia"));
        Assert.That(DeviceTuning.OwnRow(Context.Info with { Type = "discrete", Vendor = "AMD" }), Is.EqualTo("amd"));
        Assert.That(DeviceTuning.RowFor(Context.Info, "intel"), Is.EqualTo("intel"), "an explicit row wins over HYVK_TUNING");
    }

    /// <summary>lavapipe's loop limit belongs to the device: every row it runs caps attention splits by it, and a GPU
    /// under any row has no cap.</summary>
    [Test]
    public void The_loop_budget_goes_with_a_cpu_device_whatever_the_row()
    {
        DeviceInfo cpu = Context.Info with { Type = "cpu" }, gpu = Context.Info with { Type = "discrete", Vendor = "NVIDIA" };
        foreach (string row in DeviceTuning.Rows)
        {
            Assert.That(DeviceTuning.For(cpu, row).AttentionLoopBudget, Is.EqualTo(DeviceTuning.LavapipeLoopBudget), $"a cpu device under the {row} row");
            Assert.That(DeviceTuning.For(gpu, row).AttentionLoopBudget, Is.Zero, $"a GPU under the {row} row");
        }
    }

    [Test]
    public void Rows_split_across_a_subgroup_only_where_the_device_guarantees_full_subgroups_of_that_size()
    {
        // A wave32/wave64 GPU that reports 64: with subgroup size control the split shape requires 64; without it, or
        // without full subgroups, nothing guarantees a row group is one subgroup, so the one-lane shape is chosen.
        DeviceInfo wave = Context.Info with
        {
            Type = "discrete", Vendor = "AMD", SubgroupSize = 64, MinSubgroupSize = 32, MaxSubgroupSize = 64,
            Features = Context.Info.Features with { SubgroupSizeControl = true, ComputeFullSubgroups = true },
        };
        // The row is named: these are the AMD row's shapes whatever HYVK_TUNING says (CI sweeps the rows).
        Assert.That(DeviceTuning.For(wave, "amd").MatVecLanes, Is.EqualTo(64));
        Assert.That(DeviceTuning.For(wave with { Features = wave.Features with { SubgroupSizeControl = false } }, "amd").MatVecLanes, Is.EqualTo(1));
        Assert.That(DeviceTuning.For(wave with { Features = wave.Features with { ComputeFullSubgroups = false } }, "amd").MatVecLanes, Is.EqualTo(1));

        // A fixed subgroup size needs no control, only full subgroups.
        DeviceInfo fixed32 = wave with { SubgroupSize = 32, MinSubgroupSize = 32, MaxSubgroupSize = 32, Features = wave.Features with { SubgroupSizeControl = false } };
        Assert.That(DeviceTuning.For(fixed32, "amd").MatVecLanes, Is.EqualTo(32));
        Assert.That(DeviceTuning.SplitsRows(fixed32, 16), Is.False, "not the device's size");
    }

    /// <summary>#24 point 4: Intel's row ran its split kernels at the reported subgroup size (32 on recent drivers), where
    /// Q4's per-lane arrays pass a pre-Xe2 SIMD32 thread's registers: it runs them at 16 where the device can.</summary>
    [Test]
    public void Intel_runs_its_split_kernels_at_16_lanes_where_the_device_can()
    {
        DeviceInfo arc = Context.Info with
        {
            Type = "discrete", Vendor = "Intel", SubgroupSize = 32, MinSubgroupSize = 8, MaxSubgroupSize = 32,
            Features = Context.Info.Features with { SubgroupSizeControl = true, ComputeFullSubgroups = true },
        };
        DeviceTuning t = DeviceTuning.For(arc, "intel");
        Assert.That((t.MatVecLanes, t.AttentionLanes, t.MatVecWorkgroup, t.AttentionWorkgroup), Is.EqualTo((16u, 16u, 128u, 64u)));
        Assert.That(DeviceTuning.RequiredSubgroupSize(arc, t.MatVecLanes, "matvec"), Is.EqualTo(16u), "the pipelines require 16");

        DeviceInfo simd8 = arc with { SubgroupSize = 8, MinSubgroupSize = 8, MaxSubgroupSize = 8 };
        Assert.That(DeviceTuning.For(simd8, "intel").MatVecLanes, Is.EqualTo(8u), "at most 8: its size");
        DeviceInfo wide = arc with { MinSubgroupSize = 32 };
        Assert.That(DeviceTuning.For(wide, "intel").MatVecLanes, Is.EqualTo(32u), "no 16 to have: its smallest");
        DeviceInfo uncontrolled = arc with { MinSubgroupSize = 32, Features = arc.Features with { SubgroupSizeControl = false } };
        Assert.That(DeviceTuning.For(uncontrolled, "intel").MatVecLanes, Is.EqualTo(32u), "a fixed 32 is what it runs");
    }

    /// <summary>#24 points 2 and 6: the router's split path (one subgroup of the largest size per token) is kept only
    /// where the device guarantees such subgroups, and then required; elsewhere one invocation per token (it threw
    /// "lacks computeFullSubgroups" on a device without full subgroups).</summary>
    [Test]
    public void The_router_splits_across_a_subgroup_only_where_the_device_guarantees_it()
    {
        DeviceInfo wave = Context.Info with
        {
            Type = "discrete", Vendor = "AMD", SubgroupSize = 64, MinSubgroupSize = 32, MaxSubgroupSize = 64,
            Features = Context.Info.Features with { SubgroupSizeControl = true, ComputeFullSubgroups = true },
        };
        Assert.That(DeviceTuning.For(wave, "amd").RouteSplit, Is.True);
        Assert.That(DeviceTuning.RequiredSubgroupSize(wave, wave.MaxSubgroupSize, "moe_route"), Is.EqualTo(64u), "and required: 64, not the driver's pick");
        Assert.That(DeviceTuning.For(wave with { Features = wave.Features with { ComputeFullSubgroups = false } }, "amd").RouteSplit, Is.False, "no full subgroups");
        Assert.That(DeviceTuning.For(wave with { Features = wave.Features with { SubgroupSizeControl = false } }, "amd").RouteSplit, Is.False, "32 or 64, unknown which");
        DeviceInfo fixed32 = wave with { SubgroupSize = 32, MinSubgroupSize = 32, MaxSubgroupSize = 32, Features = wave.Features with { SubgroupSizeControl = false } };
        Assert.That(DeviceTuning.For(fixed32, "nvidia").RouteSplit, Is.True, "a fixed size needs no control");
    }

    [Test]
    public void Workgroups_fit_the_x_dimension_limit_as_well_as_the_invocation_count()
    {
        DeviceInfo narrow = Context.Info with
        {
            Type = "discrete", Vendor = "NVIDIA",
            Limits = Context.Info.Limits with { MaxComputeWorkGroupInvocations = 1024, MaxComputeWorkGroupSize = [128, 1024, 64] },
        };
        DeviceTuning t = DeviceTuning.For(narrow, "nvidia");
        Assert.That(new[] { t.ElementwiseWorkgroup, t.NormWorkgroup, t.MatVecWorkgroup, t.MatMulWorkgroup, t.AttentionWorkgroup, t.ReductionWorkgroup },
            Is.All.LessThanOrEqualTo(128u));
    }

    [Test]
    public void Matvec_stages_x_only_where_shared_memory_holds_it_and_reads_x_only_within_one_uniform_binding()
    {
        DeviceTuning gpu = DeviceTuning.For(Context.Info, "nvidia");
        DeviceLimits limits = Context.Info.Limits;
        Assert.That(MatVecKernel.StagesX(gpu, limits with { MaxComputeSharedMemory = 48 * 1024 }, 4096), Is.True, "A13B's 4096 floats in 48 KiB");
        Assert.That(MatVecKernel.StagesX(gpu, limits with { MaxComputeSharedMemory = 16 * 1024 }, 4096), Is.False, "16 KiB: x is read in place");
        Assert.That(MatVecKernel.StagesX(gpu with { MatVecSharedX = false }, limits, 256), Is.False);

        DeviceLimits minimum = limits with { MaxUniformBufferRange = 16384 };   // the least Vulkan allows
        Assert.DoesNotThrow(() => MatVecKernel.CheckUniformX(minimum, 4096), "A13B's widest uniform x is 4096 floats");
        Assert.That(() => MatVecKernel.CheckUniformX(minimum, 8192), Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("maxUniformBufferRange"));
    }

    [Test]
    public void A_buffer_beyond_one_allocation_is_refused_naming_it_before_anything_is_allocated()
    {
        long before = Context.AllocatedBytes;
        ulong tooBig = Context.Info.Limits.MaxMemoryAllocationSize + 1;
        Assume.That(tooBig, Is.LessThanOrEqualTo(Context.Info.Limits.MaxBufferSize), "the allocation limit is the lower one here");
        Assert.That(() => Context.CreateBuffer(tooBig, "an F16 expert stack"),
            Throws.TypeOf<VulkanException>().With.Message.Contains("an F16 expert stack").And.Message.Contains("maxMemoryAllocationSize"));
        Assert.That(Context.AllocatedBytes, Is.EqualTo(before));
    }
}
