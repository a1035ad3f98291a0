namespace Hunyuan.Vk.Vulkan;

/// <summary>What the engine knows about one Vulkan physical device: identity, limits and the optional features it uses.</summary>
public sealed record DeviceInfo
{
    /// <summary>Index in the instance's enumeration order; what <c>--device N</c> and <c>HYVK_DEVICE</c> take.</summary>
    public required int Index { get; init; }
    public required string Name { get; init; }
    public required uint VendorId { get; init; }
    public required string Vendor { get; init; }
    public required uint DeviceId { get; init; }
    /// <summary>discrete, integrated, virtual, cpu or other.</summary>
    public required string Type { get; init; }
    public required string Driver { get; init; }
    public required string DriverInfo { get; init; }
    public required string ApiVersion { get; init; }
    public required IReadOnlyList<MemoryHeapInfo> MemoryHeaps { get; init; }
    /// <summary>True when device-local memory is also host-visible and coherent (lavapipe, integrated GPUs): no staging copies.</summary>
    public required bool UnifiedMemory { get; init; }
    public required uint SubgroupSize { get; init; }
    public required uint MinSubgroupSize { get; init; }
    public required uint MaxSubgroupSize { get; init; }
    public required DeviceFeatures Features { get; init; }
    public required DeviceLimits Limits { get; init; }

    /// <summary>Why the engine cannot run on this device, or null when it can.</summary>
    public string? Unsupported { get; init; }

    /// <summary>Which feature structs the device is asked for (set by the probe; the context enables the same).</summary>
    internal ApiLevel Level { get; init; }

    public ulong DeviceLocalBytes => MemoryHeaps.Where(h => h.DeviceLocal).Aggregate(0UL, (sum, h) => sum + h.Size);
}

public sealed record MemoryHeapInfo(ulong Size, bool DeviceLocal);

/// <summary>Optional features, each true only when the device reports it (and the engine enables it).</summary>
public sealed record DeviceFeatures
{
    public bool Storage16Bit { get; init; }
    public bool Storage8Bit { get; init; }
    public bool ShaderFloat16 { get; init; }
    public bool ShaderInt8 { get; init; }
    public bool ShaderInt16 { get; init; }
    public bool ShaderInt64 { get; init; }
    public bool ShaderFloat64 { get; init; }
    public bool IntegerDotProduct { get; init; }
    public bool BufferDeviceAddress { get; init; }
    /// <summary>Subgroup size control for compute shaders (the feature, and compute among requiredSubgroupSizeStages).</summary>
    public bool SubgroupSizeControl { get; init; }
    public bool ComputeFullSubgroups { get; init; }
    public bool SubgroupArithmetic { get; init; }
    public bool SubgroupShuffle { get; init; }
    public bool ScalarBlockLayout { get; init; }
    public bool Synchronization2 { get; init; }
    public bool TimelineSemaphore { get; init; }
    public bool CooperativeMatrix { get; init; }
    public bool Timestamps { get; init; }
}

public sealed record DeviceLimits
{
    public ulong MaxStorageBufferRange { get; init; }
    public ulong MaxUniformBufferRange { get; init; }
    public ulong MaxTexelBufferElements { get; init; }
    public ulong MaxMemoryAllocationSize { get; init; }
    public ulong MaxBufferSize { get; init; }
    public uint MaxComputeSharedMemory { get; init; }
    public uint MaxPushConstantsSize { get; init; }
    public uint MaxComputeWorkGroupInvocations { get; init; }
    public IReadOnlyList<uint> MaxComputeWorkGroupSize { get; init; } = [];
    public IReadOnlyList<uint> MaxComputeWorkGroupCount { get; init; } = [];
    public ulong MinStorageBufferOffsetAlignment { get; init; }
    public ulong MinUniformBufferOffsetAlignment { get; init; }
    public ulong MinTexelBufferOffsetAlignment { get; init; }
    public uint MaxMemoryAllocationCount { get; init; }

    /// <summary>Descriptors of one shader stage (maxPerStageDescriptor*; Vulkan guarantees 4 storage buffers, 12
    /// uniform buffers, 16 sampled images, which uniform texel buffers count as, and 128 resources).</summary>
    public uint MaxPerStageStorageBuffers { get; init; } = 4;
    public uint MaxPerStageUniformBuffers { get; init; } = 12;
    public uint MaxPerStageSampledImages { get; init; } = 16;
    public uint MaxPerStageResources { get; init; } = 128;

    /// <summary>Nanoseconds per timestamp tick.</summary>
    public float TimestampPeriod { get; init; }

    /// <summary>Bits of a compute-queue timestamp that are defined (the rest are garbage, masked off).</summary>
    public uint TimestampValidBits { get; init; } = 64;

    /// <summary><paramref name="device"/>'s limits with the sizes <paramref name="wanted"/> lowers: a device opened as a
    /// stand-in for a smaller one (tests of the paths a GPU's limits take). Never looser than the device.</summary>
    public static DeviceLimits Tightest(DeviceLimits device, DeviceLimits wanted)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(wanted);
        return device with
        {
            MaxStorageBufferRange = Math.Min(device.MaxStorageBufferRange, wanted.MaxStorageBufferRange),
            MaxUniformBufferRange = Math.Min(device.MaxUniformBufferRange, wanted.MaxUniformBufferRange),
            MaxTexelBufferElements = Math.Min(device.MaxTexelBufferElements, wanted.MaxTexelBufferElements),
            MaxMemoryAllocationSize = Math.Min(device.MaxMemoryAllocationSize, wanted.MaxMemoryAllocationSize),
            MaxBufferSize = Math.Min(device.MaxBufferSize, wanted.MaxBufferSize),
            MaxComputeSharedMemory = Math.Min(device.MaxComputeSharedMemory, wanted.MaxComputeSharedMemory),
            MaxPerStageStorageBuffers = Math.Min(device.MaxPerStageStorageBuffers, wanted.MaxPerStageStorageBuffers),
            MaxPerStageUniformBuffers = Math.Min(device.MaxPerStageUniformBuffers, wanted.MaxPerStageUniformBuffers),
            MaxPerStageSampledImages = Math.Min(device.MaxPerStageSampledImages, wanted.MaxPerStageSampledImages),
            MaxPerStageResources = Math.Min(device.MaxPerStageResources, wanted.MaxPerStageResources),
        };
    }
}
