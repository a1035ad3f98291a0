using Silk.NET.Core;
using Silk.NET.Core.Native;
using Silk.NET.Vulkan;

namespace Hunyuan.Vk.Vulkan;

/// <summary>Reads a physical device's identity, limits and optional features into a <see cref="DeviceInfo"/>.</summary>
internal static unsafe class DeviceProbe
{
    /// <summary>The oldest Vulkan the engine runs on.</summary>
    public static readonly Version32 MinimumApi = new(1, 2, 0);

    /// <summary>The structs a device of <paramref name="deviceApi"/> with <paramref name="extensions"/> may be asked for
    /// under an instance of <paramref name="instanceApi"/>: a device is used at the older of its version and the
    /// instance's.</summary>
    private static ApiLevel Level(uint deviceApi, Version32 instanceApi, HashSet<string> extensions)
    {
        uint api = Math.Min(deviceApi, (uint)instanceApi);
        bool v12 = api >= (uint)MinimumApi, v13 = api >= (uint)new Version32(1, 3, 0);
        return new ApiLevel(v12, v13, v12 && !v13 && extensions.Contains(ApiLevel.SizeControlExtensionName));
    }

    public static DeviceInfo Probe(VkApi vk, PhysicalDevice device, int index, Version32 instanceApi)
    {
        PhysicalDeviceProperties props;
        vk.GetPhysicalDeviceProperties(device, &props);
        var api = (Version32)props.ApiVersion;
        HashSet<string> extensions = DeviceExtensions(vk, device);
        ApiLevel level = Level(props.ApiVersion, instanceApi, extensions);
        bool v12 = level.V12, v13 = level.V13;

        // Properties of 1.1/1.2/1.3 (or, on 1.2, the subgroup size control extension's), chained; only what the
        // device's version has is asked for.
        var p11 = new PhysicalDeviceVulkan11Properties { SType = StructureType.PhysicalDeviceVulkan11Properties };
        var p12 = new PhysicalDeviceVulkan12Properties { SType = StructureType.PhysicalDeviceVulkan12Properties };
        var p13 = new PhysicalDeviceVulkan13Properties { SType = StructureType.PhysicalDeviceVulkan13Properties };
        var pSize = new PhysicalDeviceSubgroupSizeControlProperties { SType = StructureType.PhysicalDeviceSubgroupSizeControlProperties };
        var props2 = new PhysicalDeviceProperties2 { SType = StructureType.PhysicalDeviceProperties2 };
        if (v12)
        {
            p11.PNext = &p12;
            p12.PNext = v13 ? &p13 : level.SizeControlExtension ? &pSize : null;
            props2.PNext = &p11;
            vk.GetPhysicalDeviceProperties2(device, &props2);
        }

        if (v13)
        {
            (pSize.MinSubgroupSize, pSize.MaxSubgroupSize, pSize.RequiredSubgroupSizeStages) = (p13.MinSubgroupSize, p13.MaxSubgroupSize, p13.RequiredSubgroupSizeStages);
        }

        bool sizes = v13 || level.SizeControlExtension;
        FeatureChain supported = FeatureChain.Query(vk, device, level);
        PhysicalDeviceMemoryProperties memory;
        vk.GetPhysicalDeviceMemoryProperties(device, &memory);
        (bool hasCompute, uint timestampBits) = ComputeQueue(vk, device);

        var heaps = new List<MemoryHeapInfo>();
        for (int i = 0; i < memory.MemoryHeapCount; i++)
        {
            heaps.Add(new MemoryHeapInfo(memory.MemoryHeaps[i].Size, memory.MemoryHeaps[i].Flags.HasFlag(MemoryHeapFlags.DeviceLocalBit)));
        }

        bool unified = true;
        for (int i = 0; i < memory.MemoryTypeCount; i++)
        {
            MemoryPropertyFlags f = memory.MemoryTypes[i].PropertyFlags;
            if (f.HasFlag(MemoryPropertyFlags.DeviceLocalBit) && !f.HasFlag(MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit))
            {
                unified = false;
            }
        }

        SubgroupFeatureFlags ops = v12 ? p11.SubgroupSupportedOperations : 0;
        bool computeSubgroups = v12 && p11.SubgroupSupportedStages.HasFlag(ShaderStageFlags.ComputeBit);
        PhysicalDeviceLimits l = props.Limits;
        string? unsupported = !v12 ? $"Vulkan {api.Major}.{api.Minor} is older than the 1.2 the engine needs"
            : !hasCompute ? "it has no compute queue"
            : !computeSubgroups || !ops.HasFlag(SubgroupFeatureFlags.ArithmeticBit) ? "compute shaders lack subgroup arithmetic"
            : null;

        return new DeviceInfo
        {
            Index = index,
            Name = SilkMarshal.PtrToString((nint)props.DeviceName) ?? "?",
            VendorId = props.VendorID,
            Vendor = VendorName(props.VendorID),
            DeviceId = props.DeviceID,
            Type = props.DeviceType switch
            {
                PhysicalDeviceType.DiscreteGpu => "discrete",
                PhysicalDeviceType.IntegratedGpu => "integrated",
                PhysicalDeviceType.VirtualGpu => "virtual",
                PhysicalDeviceType.Cpu => "cpu",
                _ => "other",
            },
            Driver = v12 ? SilkMarshal.PtrToString((nint)p12.DriverName) ?? "?" : "?",
            DriverInfo = v12 ? SilkMarshal.PtrToString((nint)p12.DriverInfo) ?? string.Empty : string.Empty,
            ApiVersion = $"{api.Major}.{api.Minor}.{api.Patch}",
            MemoryHeaps = heaps,
            UnifiedMemory = unified,
            SubgroupSize = v12 ? p11.SubgroupSize : 1,
            MinSubgroupSize = sizes ? pSize.MinSubgroupSize : (v12 ? p11.SubgroupSize : 1),
            MaxSubgroupSize = sizes ? pSize.MaxSubgroupSize : (v12 ? p11.SubgroupSize : 1),
            Features = new DeviceFeatures
            {
                Storage16Bit = supported.V11.StorageBuffer16BitAccess && supported.V11.UniformAndStorageBuffer16BitAccess,
                Storage8Bit = supported.V12.StorageBuffer8BitAccess && supported.V12.UniformAndStorageBuffer8BitAccess,
                ShaderFloat16 = supported.V12.ShaderFloat16,
                ShaderInt8 = supported.V12.ShaderInt8,
                ShaderInt16 = supported.Core.Features.ShaderInt16,
                ShaderInt64 = supported.Core.Features.ShaderInt64,
                ShaderFloat64 = supported.Core.Features.ShaderFloat64,
                IntegerDotProduct = supported.V13.ShaderIntegerDotProduct,
                BufferDeviceAddress = supported.V12.BufferDeviceAddress,
                SubgroupSizeControl = supported.SubgroupSizeControl && pSize.RequiredSubgroupSizeStages.HasFlag(ShaderStageFlags.ComputeBit),
                ComputeFullSubgroups = supported.ComputeFullSubgroups,
                SubgroupArithmetic = ops.HasFlag(SubgroupFeatureFlags.ArithmeticBit),
                SubgroupShuffle = ops.HasFlag(SubgroupFeatureFlags.ShuffleBit),
                ScalarBlockLayout = supported.V12.ScalarBlockLayout,
                Synchronization2 = supported.V13.Synchronization2,
                TimelineSemaphore = supported.V12.TimelineSemaphore,
                CooperativeMatrix = extensions.Contains("VK_KHR_cooperative_matrix"),
                Timestamps = timestampBits > 0,
            },
            Limits = new DeviceLimits
            {
                MaxStorageBufferRange = l.MaxStorageBufferRange,
                MaxUniformBufferRange = l.MaxUniformBufferRange,
                MaxTexelBufferElements = l.MaxTexelBufferElements,
                MaxMemoryAllocationSize = v12 ? p11.MaxMemoryAllocationSize : 1UL << 30,
                MaxBufferSize = v13 ? p13.MaxBufferSize : (v12 ? p11.MaxMemoryAllocationSize : 1UL << 30),
                MaxComputeSharedMemory = l.MaxComputeSharedMemorySize,
                MaxPushConstantsSize = l.MaxPushConstantsSize,
                MaxComputeWorkGroupInvocations = l.MaxComputeWorkGroupInvocations,
                MaxComputeWorkGroupSize = [l.MaxComputeWorkGroupSize[0], l.MaxComputeWorkGroupSize[1], l.MaxComputeWorkGroupSize[2]],
                MaxComputeWorkGroupCount = [l.MaxComputeWorkGroupCount[0], l.MaxComputeWorkGroupCount[1], l.MaxComputeWorkGroupCount[2]],
                MinStorageBufferOffsetAlignment = l.MinStorageBufferOffsetAlignment,
                MinUniformBufferOffsetAlignment = l.MinUniformBufferOffsetAlignment,
                MinTexelBufferOffsetAlignment = l.MinTexelBufferOffsetAlignment,
                MaxMemoryAllocationCount = l.MaxMemoryAllocationCount,
                MaxPerStageStorageBuffers = l.MaxPerStageDescriptorStorageBuffers,
                MaxPerStageUniformBuffers = l.MaxPerStageDescriptorUniformBuffers,
                MaxPerStageSampledImages = l.MaxPerStageDescriptorSampledImages,
                MaxPerStageResources = l.MaxPerStageResources,
                TimestampPeriod = l.TimestampPeriod,
                TimestampValidBits = timestampBits,
            },
            Unsupported = unsupported,
            Level = level,
        };
    }

    /// <summary>The first queue family with compute, and its valid timestamp bits (0: no timestamps).</summary>
    public static (bool HasCompute, uint TimestampBits) ComputeQueue(VkApi vk, PhysicalDevice device)
    {
        int family = ComputeQueueFamily(vk, device, out QueueFamilyProperties props);
        return (family >= 0, family >= 0 ? props.TimestampValidBits : 0);
    }

    public static int ComputeQueueFamily(VkApi vk, PhysicalDevice device, out QueueFamilyProperties chosen)
    {
        uint count = 0;
        vk.GetPhysicalDeviceQueueFamilyProperties(device, &count, null);
        var families = new QueueFamilyProperties[count];
        fixed (QueueFamilyProperties* p = families)
        {
            vk.GetPhysicalDeviceQueueFamilyProperties(device, &count, p);
        }

        for (int i = 0; i < families.Length; i++)
        {
            if (families[i].QueueFlags.HasFlag(QueueFlags.ComputeBit))
            {
                chosen = families[i];
                return i;
            }
        }

        chosen = default;
        return -1;
    }

    private static HashSet<string> DeviceExtensions(VkApi vk, PhysicalDevice device)
    {
        uint count = 0;
        VulkanException.Check(vk.EnumerateDeviceExtensionProperties(device, (byte*)null, &count, null), "vkEnumerateDeviceExtensionProperties");
        var props = new ExtensionProperties[count];
        var names = new HashSet<string>(StringComparer.Ordinal);
        fixed (ExtensionProperties* p = props)
        {
            VulkanException.Check(vk.EnumerateDeviceExtensionProperties(device, (byte*)null, &count, p), "vkEnumerateDeviceExtensionProperties");
            for (int i = 0; i < count; i++)
            {
                names.Add(SilkMarshal.PtrToString((nint)p[i].ExtensionName) ?? string.Empty);
            }
        }

        return names;
    }

    private static string VendorName(uint id) => id switch
    {
        0x10DE => "NVIDIA",
        0x1002 => "AMD",
        0x8086 => "Intel",
        0x13B5 => "ARM",
        0x5143 => "Qualcomm",
        0x106B => "Apple",
        0x10005 => "Mesa",
        _ => $"0x{id:X4}",
    };
}
