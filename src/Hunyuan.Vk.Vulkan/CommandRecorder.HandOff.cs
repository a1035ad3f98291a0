using Silk.NET.Vulkan;
using Semaphore = Silk.NET.Vulkan.Semaphore;

namespace Hunyuan.Vk.Vulkan;

/// <summary>Host hand-offs: the recording cut into batches tied by a timeline semaphore.</summary>
public sealed unsafe partial class CommandRecorder
{
    /// <summary>Ends the current batch at a hand-off point: once the device has run everything recorded so far, its
    /// writes are visible to the host and <see cref="AwaitDevice"/>(point) returns. What is recorded next runs on
    /// without waiting. Returns the point.</summary>
    public int SignalHost()
    {
        EnsureRecording();
        if (!_context.Info.Features.TimelineSemaphore)
        {
            throw new VulkanException($"{_context.Info.Name} has no timeline semaphores (Vulkan 1.2): the host cannot compute in the middle of a step on it");
        }

        if (_points > _waited)
        {
            // The device's signal of this point must come after the host's of the last one: values only rise.
            throw new InvalidOperationException($"hand-off {_points - 1} has no WaitHost yet: record it before the next SignalHost");
        }

        int point = _points++;
        EndBatch(hostReadBarrier: true, signal: point);
        StartBatch(-1);
        return point;
    }

    /// <summary>Ends the current batch; what is recorded next waits until the host has called
    /// <see cref="Release"/>(<paramref name="point"/>), and sees what the host wrote before it.</summary>
    public void WaitHost(int point)
    {
        EnsureRecording();
        ArgumentOutOfRangeException.ThrowIfNegative(point);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(point, _points);
        _waited = Math.Max(_waited, point + 1);
        EndBatch(hostReadBarrier: false, signal: -1);
        StartBatch(point);
    }

    /// <summary>After <see cref="Submit"/>: blocks until the device has reached hand-off <paramref name="point"/>.</summary>
    public void AwaitDevice(int point)
    {
        CheckPoint(point);
        ulong value = _submittedBase + 2 * (ulong)point + 1;
        Semaphore timeline = _timeline;
        var wait = new SemaphoreWaitInfo { SType = StructureType.SemaphoreWaitInfo, SemaphoreCount = 1, PSemaphores = &timeline, PValues = &value };
        VulkanException.Check(_context.Waited(_context.Api.WaitSemaphores(_context.Device, &wait, ulong.MaxValue), whole: false), "vkWaitSemaphores");
    }

    /// <summary>After <see cref="Submit"/>: the host's part of hand-off <paramref name="point"/> is written; the device
    /// goes on. Points are released in order.</summary>
    public void Release(int point)
    {
        CheckPoint(point);
        if (point != _released)
        {
            throw new InvalidOperationException($"hand-off {point} released out of order: {_released} is next");
        }

        var signal = new SemaphoreSignalInfo { SType = StructureType.SemaphoreSignalInfo, Semaphore = _timeline, Value = _submittedBase + 2 * (ulong)point + 2 };
        VulkanException.Check(_context.Api.SignalSemaphore(_context.Device, &signal), "vkSignalSemaphore");
        _released++;
    }

    private void CheckPoint(int point)
    {
        if (!_pending || point < 0 || point >= _points)
        {
            throw new InvalidOperationException($"no hand-off {point} is pending (submitted: {_pending}, points: {_points})");
        }
    }

    private CommandBuffer AllocateBuffer()
    {
        var alloc = new CommandBufferAllocateInfo
        {
            SType = StructureType.CommandBufferAllocateInfo,
            CommandPool = _context.CommandPool,
            Level = CommandBufferLevel.Primary,
            CommandBufferCount = 1,
        };
        CommandBuffer commands;
        VulkanException.Check(_context.Api.AllocateCommandBuffers(_context.Device, &alloc, &commands), "vkAllocateCommandBuffers");
        return commands;
    }

    // Begins the next batch's command buffer; `waitPoint` >= 0: the batch waits for the host's release of it.
    private void StartBatch(int waitPoint)
    {
        int index = _batches.Count;
        if (index == _buffers.Count)
        {
            _buffers.Add(AllocateBuffer());
        }

        _commands = _buffers[index];
        _batches.Add(new Batch(waitPoint, -1));
        var info = new CommandBufferBeginInfo { SType = StructureType.CommandBufferBeginInfo };
        VulkanException.Check(_context.Api.ResetCommandBuffer(_commands, 0), "vkResetCommandBuffer");
        VulkanException.Check(_context.Api.BeginCommandBuffer(_commands, &info), "vkBeginCommandBuffer");
        _boundPipeline = default;
        _accessCount = 0;
        if (waitPoint >= 0)
        {
            // The host's writes (host-coherent memory, before its signal) become visible to the shaders and copies.
            var barrier = new MemoryBarrier { SType = StructureType.MemoryBarrier, SrcAccessMask = AccessFlags.HostWriteBit, DstAccessMask = ReadAccess };
            _context.Api.CmdPipelineBarrier(_commands, PipelineStageFlags.HostBit, DeviceStages, 0, 1, &barrier, 0, null, 0, null);
        }

        // Hazard tracking sees one batch; this orders it after everything submitted before (a barrier's first scope
        // is all earlier commands in submission order), so work of an earlier batch or submit is visible here. Not counted.
        EmitBarrier();
        if (waitPoint >= 0 && Profile is DispatchProfile profile && !profile.Full)
        {
            profile.Add(DispatchProfile.HostWait);
            _context.Api.CmdWriteTimestamp(_commands, PipelineStageFlags.BottomOfPipeBit, profile.Pool.Handle, (uint)profile.Count);
        }
    }

    // Ends the batch's command buffer: device writes made visible to host reads (after a signal, or the fence).
    private void EndBatch(bool hostReadBarrier, int signal)
    {
        if (hostReadBarrier)
        {
            var barrier = new MemoryBarrier { SType = StructureType.MemoryBarrier, SrcAccessMask = WriteAccess, DstAccessMask = AccessFlags.HostReadBit };
            _context.Api.CmdPipelineBarrier(_commands, DeviceStages, PipelineStageFlags.HostBit, 0, 1, &barrier, 0, null, 0, null);
        }

        VulkanException.Check(_context.Api.EndCommandBuffer(_commands), "vkEndCommandBuffer");
        _batches[^1] = _batches[^1] with { SignalPoint = signal };
    }

    private const PipelineStageFlags DeviceStages = PipelineStageFlags.ComputeShaderBit | PipelineStageFlags.TransferBit;
    private const AccessFlags WriteAccess = AccessFlags.ShaderWriteBit | AccessFlags.TransferWriteBit;
    private const AccessFlags ReadAccess = AccessFlags.ShaderReadBit | AccessFlags.ShaderWriteBit | AccessFlags.TransferReadBit | AccessFlags.TransferWriteBit
        | AccessFlags.UniformReadBit;
}
