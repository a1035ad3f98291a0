using Silk.NET.Vulkan;

namespace Hunyuan.Vk.Vulkan;

/// <summary>Which feature and property structs a device may be asked for: those of the Vulkan both it and the instance
/// speak (at least 1.2 to run), and on 1.2 VK_EXT_subgroup_size_control's (enabled on the device where present).</summary>
internal readonly record struct ApiLevel(bool V12, bool V13, bool SizeControlExtension)
{
    public const string SizeControlExtensionName = "VK_EXT_subgroup_size_control";
}

/// <summary>
/// The feature structs of Vulkan 1.0-1.3, queried together, and the subset the engine enables on its device.
/// On a 1.2 driver the subgroup size control of 1.3 comes from VK_EXT_subgroup_size_control's struct instead
/// (<see cref="SizeControl"/>). Kept as one value so that the chain's pointers are set only at the moment of a call.
/// </summary>
internal unsafe struct FeatureChain
{
    public PhysicalDeviceFeatures2 Core;
    public PhysicalDeviceVulkan11Features V11;
    public PhysicalDeviceVulkan12Features V12;
    public PhysicalDeviceVulkan13Features V13;
    public PhysicalDeviceSubgroupSizeControlFeatures SizeControl;   // 1.2 with the extension only
    public ApiLevel Level;

    /// <summary>Subgroup size control (1.3's, or the extension's on 1.2).</summary>
    public readonly bool SubgroupSizeControl => Level.V13 ? V13.SubgroupSizeControl : Level.SizeControlExtension && SizeControl.SubgroupSizeControl;

    /// <summary>Full compute subgroups (1.3's, or the extension's on 1.2).</summary>
    public readonly bool ComputeFullSubgroups => Level.V13 ? V13.ComputeFullSubgroups : Level.SizeControlExtension && SizeControl.ComputeFullSubgroups;

    public static FeatureChain Query(VkApi vk, PhysicalDevice device, ApiLevel level)
    {
        FeatureChain chain = Empty(level);
        if (level.V12)
        {
            chain.Link();
            vk.GetPhysicalDeviceFeatures2(device, &chain.Core);
            chain.Unlink();
        }
        else
        {
            vk.GetPhysicalDeviceFeatures(device, &chain.Core.Features);
        }

        return chain;
    }

    /// <summary>What the engine turns on: every feature it may use that the device has. robustBufferAccess stays off
    /// (guard-region tests must see out-of-bounds writes, and it costs speed).</summary>
    public readonly FeatureChain Wanted()
    {
        FeatureChain w = Empty(Level);
        w.Core.Features.ShaderInt16 = Core.Features.ShaderInt16;
        w.Core.Features.ShaderInt64 = Core.Features.ShaderInt64;
        w.Core.Features.ShaderFloat64 = Core.Features.ShaderFloat64;
        w.V11.StorageBuffer16BitAccess = V11.StorageBuffer16BitAccess;
        w.V11.UniformAndStorageBuffer16BitAccess = V11.UniformAndStorageBuffer16BitAccess;
        w.V11.StoragePushConstant16 = V11.StoragePushConstant16;
        w.V12.StorageBuffer8BitAccess = V12.StorageBuffer8BitAccess;
        w.V12.UniformAndStorageBuffer8BitAccess = V12.UniformAndStorageBuffer8BitAccess;
        w.V12.StoragePushConstant8 = V12.StoragePushConstant8;
        w.V12.ShaderFloat16 = V12.ShaderFloat16;
        w.V12.ShaderInt8 = V12.ShaderInt8;
        w.V12.BufferDeviceAddress = V12.BufferDeviceAddress;
        w.V12.ScalarBlockLayout = V12.ScalarBlockLayout;
        w.V12.TimelineSemaphore = V12.TimelineSemaphore;
        w.V12.HostQueryReset = V12.HostQueryReset;
        w.V12.ShaderSubgroupExtendedTypes = V12.ShaderSubgroupExtendedTypes;
        w.V13.SubgroupSizeControl = V13.SubgroupSizeControl;
        w.V13.ComputeFullSubgroups = V13.ComputeFullSubgroups;
        w.V13.Synchronization2 = V13.Synchronization2;
        w.V13.Maintenance4 = V13.Maintenance4;
        w.V13.ShaderIntegerDotProduct = V13.ShaderIntegerDotProduct;
        w.SizeControl.SubgroupSizeControl = SizeControl.SubgroupSizeControl;
        w.SizeControl.ComputeFullSubgroups = SizeControl.ComputeFullSubgroups;
        return w;
    }

    /// <summary>Points Core -> V11 -> V12 (-> V13, or -> the extension's struct). Call only on a value that stays put (a
    /// local or a fixed field).</summary>
    public void Link()
    {
        fixed (FeatureChain* self = &this)
        {
            self->Core.PNext = &self->V11;
            self->V11.PNext = &self->V12;
            self->V12.PNext = Level.V13 ? &self->V13 : Level.SizeControlExtension ? &self->SizeControl : null;
        }
    }

    public void Unlink()
    {
        Core.PNext = null;
        V11.PNext = null;
        V12.PNext = null;
        V13.PNext = null;
        SizeControl.PNext = null;
    }

    private static FeatureChain Empty(ApiLevel level) => new()
    {
        Core = new PhysicalDeviceFeatures2 { SType = StructureType.PhysicalDeviceFeatures2 },
        V11 = new PhysicalDeviceVulkan11Features { SType = StructureType.PhysicalDeviceVulkan11Features },
        V12 = new PhysicalDeviceVulkan12Features { SType = StructureType.PhysicalDeviceVulkan12Features },
        V13 = new PhysicalDeviceVulkan13Features { SType = StructureType.PhysicalDeviceVulkan13Features },
        SizeControl = new PhysicalDeviceSubgroupSizeControlFeatures { SType = StructureType.PhysicalDeviceSubgroupSizeControlFeatures },
        Level = level,
    };
}
