using Silk.NET.Core.Native;
using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace Hunyuan.Vk.Vulkan;

/// <summary>
/// One open device: its compute queue, command pool, descriptor pools and memory types. Owns every buffer, pipeline
/// and recorder made from it only in the sense that they must be disposed before it; each of those has its own owner.
/// Not thread-safe: one thread records and submits.
/// </summary>
public sealed unsafe class GpuContext : IDisposable
{
    private readonly PhysicalDeviceMemoryProperties _memory;
    private readonly DescriptorAllocator _descriptors;
    private CommandRecorder? _oneShot;
    private StagedUploads? _uploads;
    private bool _disposed;

    internal VkApi Api { get; }
    internal Device Device { get; }
    internal Queue Queue { get; }
    internal uint QueueFamily { get; }
    internal CommandPool CommandPool { get; }
    internal DescriptorAllocator Descriptors => _descriptors;

    public VulkanInstance Instance { get; }

    /// <summary>True when device buffers are never mapped (uploads and read-backs always go through staging copies).</summary>
    public bool ForceStaging { get; }

    /// <summary>Hears what a user should know about the device's memory (once each), e.g. device buffers that had to go
    /// to host memory. Null: nobody listens.</summary>
    public Action<string>? Log { get; set; }

    private int _saidHostFallback;
    public DeviceInfo Info { get; }

    private long _allocated, _peak, _submits;

    /// <summary>Queue submits so far, from every recorder of this context (staged uploads and read-backs included).</summary>
    public long Submits => Interlocked.Read(ref _submits);

    internal void Submitted() => Interlocked.Increment(ref _submits);

    /// <summary>Bytes of device memory held by live buffers now.</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocated);

    /// <summary>The most <see cref="AllocatedBytes"/> has been since the context was made.</summary>
    public long PeakAllocatedBytes => Interlocked.Read(ref _peak);

    internal void Allocated(long bytes)
    {
        long now = Interlocked.Add(ref _allocated, bytes);
        long peak;
        while (now > (peak = Interlocked.Read(ref _peak)) && Interlocked.CompareExchange(ref _peak, now, peak) != peak)
        {
        }
    }

    private readonly DeviceFaults? _faults = DeviceFaults.FromEnvironment();
    private long _allocations, _waits;
    private int _lost;

    /// <summary>Device memory allocations made by this context so far (each buffer is one).</summary>
    public long Allocations => Interlocked.Read(ref _allocations);

    /// <summary>Waits for whole submits (their fences) so far.</summary>
    public long Waits => Interlocked.Read(ref _waits);

    /// <summary>True once a wait has reported VK_ERROR_DEVICE_LOST: nothing more runs on this device.</summary>
    public bool IsLost => Volatile.Read(ref _lost) != 0;

    // vkAllocateMemory, or the fault HYVK_FAULTS asks for at this allocation.
    internal Result AllocateMemory(MemoryAllocateInfo* info, DeviceMemory* memory)
    {
        long n = Interlocked.Increment(ref _allocations);
        return n == _faults?.OutOfDeviceMemoryAt ? Result.ErrorOutOfDeviceMemory
            : n == _faults?.OutOfHostMemoryAt ? Result.ErrorOutOfHostMemory
            : Api.AllocateMemory(Device, info, null, memory);
    }

    // What a wait returned, or VK_ERROR_DEVICE_LOST where HYVK_FAULTS asks for it; a lost device is remembered. The
    // fault is made at a wait for a whole submit (a fence): the device is then idle, as a lost one is, and nothing of
    // the submit (a hand-off the host has still to release) is left running.
    internal Result Waited(Result result, bool whole)
    {
        if (whole && Interlocked.Increment(ref _waits) == _faults?.LostAtWait && result == Result.Success)
        {
            result = Result.ErrorDeviceLost;
        }

        if (result == Result.ErrorDeviceLost)
        {
            Volatile.Write(ref _lost, 1);
        }

        return result;
    }

    /// <summary>Throws once the device is lost: a submit then would fail or never finish.</summary>
    internal void ThrowIfLost()
    {
        if (IsLost)
        {
            throw new VulkanException($"The device ({Info.Name}) was lost (VK_ERROR_DEVICE_LOST) and runs nothing more: restart to use it again")
            {
                Result = nameof(Result.ErrorDeviceLost),
            };
        }
    }

    internal GpuContext(VulkanInstance instance, PhysicalDevice physical, DeviceInfo info, bool forceStaging)
    {
        ForceStaging = forceStaging;
        Instance = instance;
        Api = instance.Api;
        Info = info;
        PhysicalDeviceMemoryProperties memory;
        Api.GetPhysicalDeviceMemoryProperties(physical, &memory);
        _memory = memory;

        int family = DeviceProbe.ComputeQueueFamily(Api, physical, out _);
        QueueFamily = (uint)family;
        Device = CreateDevice(physical, info);
        Queue queue;
        Api.GetDeviceQueue(Device, QueueFamily, 0, &queue);
        Queue = queue;

        var poolInfo = new CommandPoolCreateInfo
        {
            SType = StructureType.CommandPoolCreateInfo,
            QueueFamilyIndex = QueueFamily,
            Flags = CommandPoolCreateFlags.ResetCommandBufferBit,
        };
        CommandPool pool;
        VulkanException.Check(Api.CreateCommandPool(Device, &poolInfo, null, &pool), "vkCreateCommandPool");
        CommandPool = pool;
        _descriptors = new DescriptorAllocator(this);
    }

    private Device CreateDevice(PhysicalDevice physical, DeviceInfo info)
    {
        ApiLevel level = info.Level;
        FeatureChain wanted = FeatureChain.Query(Api, physical, level).Wanted();
        wanted.Link();
        string[] extensions = level.SizeControlExtension ? [ApiLevel.SizeControlExtensionName] : [];
        nint extensionNames = SilkMarshal.StringArrayToPtr(extensions);
        float priority = 1f;
        var queueInfo = new DeviceQueueCreateInfo
        {
            SType = StructureType.DeviceQueueCreateInfo,
            QueueFamilyIndex = QueueFamily,
            QueueCount = 1,
            PQueuePriorities = &priority,
        };
        var create = new DeviceCreateInfo
        {
            SType = StructureType.DeviceCreateInfo,
            QueueCreateInfoCount = 1,
            PQueueCreateInfos = &queueInfo,
            EnabledExtensionCount = (uint)extensions.Length,
            PpEnabledExtensionNames = (byte**)extensionNames,
            PNext = &wanted.Core,
        };
        try
        {
            Device device;
            VulkanException.Check(Api.CreateDevice(physical, &create, null, &device), $"vkCreateDevice ({info.Name})");
            return device;
        }
        finally
        {
            SilkMarshal.Free(extensionNames);
        }
    }

    /// <summary>A buffer in device-local memory, mapped directly when that memory is host-visible.</summary>
    public GpuBuffer CreateBuffer(ulong bytes, string name) => new(this, bytes, name, hostVisible: false);

    /// <summary>A host-visible buffer for staging uploads and read-backs.</summary>
    public GpuBuffer CreateHostBuffer(ulong bytes, string name) => new(this, bytes, name, hostVisible: true);

    public ComputePipeline CreatePipeline(PipelineDescription description) => new(this, description);

    public CommandRecorder CreateRecorder() => new(this);

    public TimestampPool CreateTimestamps(uint count) => new(this, count);

    /// <summary>
    /// Until the returned scope is disposed, writes to buffers the host cannot map are gathered and copied in few
    /// submits (<see cref="StagedUploads"/>) instead of one each; any submit in between sends them first. Scopes nest.
    /// </summary>
    public UploadBatch BatchUploads()
    {
        Uploads.BeginBatch();
        return new UploadBatch(Uploads);
    }

    internal StagedUploads Uploads => _uploads ??= new StagedUploads(this);

    /// <summary>Sends the gathered uploads before other work is submitted.</summary>
    internal void FlushUploads() => _uploads?.Flush();

    /// <summary>Records with <paramref name="record"/> into a reusable one-shot command buffer, submits and waits.</summary>
    public void Run(Action<CommandRecorder> record)
    {
        ArgumentNullException.ThrowIfNull(record);
        _oneShot ??= CreateRecorder();
        _oneShot.Begin();
        record(_oneShot);
        _oneShot.End();
        _oneShot.SubmitAndWait();
    }

    internal uint FindMemoryType(uint allowedTypes, bool hostVisible, out MemoryPropertyFlags flags)
    {
        // Device buffers: the first device-local type. Host buffers: host-visible + coherent, cached preferred (read-backs).
        MemoryPropertyFlags[] preferences = hostVisible
            ? [MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit | MemoryPropertyFlags.HostCachedBit,
               MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit]
            : [MemoryPropertyFlags.DeviceLocalBit, MemoryPropertyFlags.None];
        foreach (MemoryPropertyFlags wanted in preferences)
        {
            for (uint i = 0; i < _memory.MemoryTypeCount; i++)
            {
                MemoryPropertyFlags f = _memory.MemoryTypes[(int)i].PropertyFlags;
                if ((allowedTypes & (1u << (int)i)) != 0 && (f & wanted) == wanted)
                {
                    if (!hostVisible && !f.HasFlag(MemoryPropertyFlags.DeviceLocalBit) && Interlocked.Exchange(ref _saidHostFallback, 1) == 0)
                    {
                        Log?.Invoke($"{Info.Name}: a device buffer went to memory that is not device-local (no device-local type allows it); kernels reading it run at host-memory speed");
                    }

                    flags = f;
                    return i;
                }
            }
        }

        throw new VulkanException($"No memory type fits (allowed 0x{allowedTypes:X}, host-visible {hostVisible}) on {Info.Name}");
    }

    internal VkBuffer CreateRawBuffer(ulong bytes, BufferUsageFlags usage)
    {
        var info = new BufferCreateInfo
        {
            SType = StructureType.BufferCreateInfo,
            Size = bytes,
            Usage = usage,
            SharingMode = SharingMode.Exclusive,
        };
        VkBuffer buffer;
        VulkanException.Check(Api.CreateBuffer(Device, &info, null, &buffer), $"vkCreateBuffer ({bytes} bytes)");
        return buffer;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _uploads?.Dispose();
        _ = Api.DeviceWaitIdle(Device);
        _oneShot?.Dispose();
        _descriptors.Dispose();
        Api.DestroyCommandPool(Device, CommandPool, null);
        Api.DestroyDevice(Device, null);
    }
}
