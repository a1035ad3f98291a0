using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Silk.NET.Vulkan;
using Semaphore = Silk.NET.Vulkan.Semaphore;

namespace Hunyuan.Vk.Vulkan;

/// <summary>
/// One command buffer and its fence: record dispatches, copies and timestamps, then submit. Barriers are placed by
/// hazard tracking: the recorder knows the bytes each command reads and writes (from the pipeline's written
/// bindings), and puts a barrier before a command only when it touches bytes that an earlier command since the last
/// barrier wrote, or writes bytes that one read. Independent commands share one barrier. A recording can be submitted
/// again without re-recording. Recording allocates nothing.
/// </summary>
/// <remarks>Host hand-offs: <see cref="SignalHost"/> and <see cref="WaitHost"/> cut the recording into batches of one
/// submit, tied by a timeline semaphore: at a signal point the device tells the host that what it wrote so far is
/// readable (<see cref="AwaitDevice"/>), and the device goes on with what follows; at a wait point it stops until the
/// host has written its part and called <see cref="Release"/>. So the host can compute in the middle of a step while the
/// queue stays fed, still with one submit. A recording without hand-offs is one batch, as before.</remarks>
public sealed unsafe class CommandRecorder : IDisposable
{
    private readonly GpuContext _context;
    private readonly List<CommandBuffer> _buffers = [];    // one per batch; grown on the first recording that needs more
    private readonly List<Batch> _batches = [];
    private CommandBuffer _commands;                          // the batch being recorded
    private readonly Fence _fence;
    private Semaphore _timeline;                              // made at the first hand-off
    private ulong _timelineNext;                              // the value the next submit's point 0 starts from
    private ulong _submittedBase;                             // point k of the pending submit: device signals base + 2k + 1, host base + 2k + 2
    private int _points;                                      // hand-off points of the recording
    private int _released;                                    // points of the pending submit the host has released
    private int _waited;                                      // points of the recording the device waits for (all but maybe the last)
    private Pipeline _boundPipeline;
    private bool _recording;
    private bool _pending;
    private bool _disposed;

    /// <summary>Accesses since the last barrier; a full list just forces a barrier.</summary>
    private readonly BufferAccess[] _accesses = new BufferAccess[64];
    private int _accessCount;

    internal CommandRecorder(GpuContext context)
    {
        _context = context;
        VkApi vk = context.Api;
        _commands = AllocateBuffer();
        _buffers.Add(_commands);
        var fenceInfo = new FenceCreateInfo { SType = StructureType.FenceCreateInfo };
        Fence fence;
        VulkanException.Check(vk.CreateFence(context.Device, &fenceInfo, null, &fence), "vkCreateFence");
        _fence = fence;
    }

    private readonly record struct Batch(int WaitPoint, int SignalPoint);   // -1: none

    /// <summary>Host hand-off points recorded since <see cref="Begin"/>.</summary>
    public int HostPoints => _points;

    /// <summary>Batches of the recording: one, plus one per hand-off.</summary>
    public int Batches => _batches.Count;

    /// <summary>Dispatches recorded since <see cref="Begin"/>.</summary>
    public int DispatchCount { get; private set; }

    /// <summary>Barriers recorded since <see cref="Begin"/> (placed by hazard tracking or asked for).</summary>
    public int BarrierCount { get; private set; }

    /// <summary>Weight bytes the kernels recorded since <see cref="Begin"/> declared they read (<see cref="AddWeightBytes"/>).</summary>
    public ulong WeightBytes { get; private set; }

    /// <summary>When set (between recordings), the next recordings time each dispatch on the GPU.</summary>
    public DispatchProfile? Profile { get; set; }

    /// <summary>Notes that the last dispatch reads <paramref name="bytes"/> of weights: for the benchmark's bytes per token.</summary>
    public void AddWeightBytes(ulong bytes)
    {
        WeightBytes += bytes;
        Profile?.AddWeightBytes(bytes);
    }

    public void Begin()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Wait();
        _batches.Clear();
        _points = 0;
        _waited = 0;
        DispatchCount = 0;
        BarrierCount = 0;
        WeightBytes = 0;
        _recording = true;
        StartBatch(-1);
        if (Profile is DispatchProfile profile)
        {
            profile.Reset();
            _context.Api.CmdResetQueryPool(_commands, profile.Pool.Handle, 0, profile.Pool.Count);
            _context.Api.CmdWriteTimestamp(_commands, PipelineStageFlags.BottomOfPipeBit, profile.Pool.Handle, 0);
        }
    }

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

    /// <summary>Records a dispatch of <paramref name="groupsX"/> x <paramref name="groupsY"/> x <paramref name="groupsZ"/> workgroups.</summary>
    public void Dispatch<TPush>(DescriptorBinding binding, in TPush push, uint groupsX, uint groupsY = 1, uint groupsZ = 1)
        where TPush : unmanaged
    {
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(MemoryMarshal.CreateReadOnlySpan(ref Unsafe.AsRef(in push), 1));
        Dispatch(binding, bytes, groupsX, groupsY, groupsZ);
    }

    public void Dispatch(DescriptorBinding binding, ReadOnlySpan<byte> push, uint groupsX, uint groupsY = 1, uint groupsZ = 1)
    {
        ArgumentNullException.ThrowIfNull(binding);
        EnsureRecording();
        ComputePipeline pipeline = binding.Pipeline;
        if (push.Length != pipeline.Description.PushConstantBytes)
        {
            throw new ArgumentException($"Pipeline '{pipeline.Name}' takes {pipeline.Description.PushConstantBytes} bytes of push constants; {push.Length} were given");
        }

        IReadOnlyList<uint> max = _context.Info.Limits.MaxComputeWorkGroupCount;
        if (groupsX == 0 || groupsY == 0 || groupsZ == 0 || groupsX > max[0] || groupsY > max[1] || groupsZ > max[2])
        {
            throw new ArgumentOutOfRangeException(nameof(groupsX),
                $"Pipeline '{pipeline.Name}': grid {groupsX}x{groupsY}x{groupsZ} is empty or above the device's limit {max[0]}x{max[1]}x{max[2]}");
        }

        Track(binding.Accesses);
        VkApi vk = _context.Api;
        if (_boundPipeline.Handle != pipeline.Handle.Handle)
        {
            vk.CmdBindPipeline(_commands, PipelineBindPoint.Compute, pipeline.Handle);
            _boundPipeline = pipeline.Handle;
        }

        DescriptorSet set = binding.Set;
        vk.CmdBindDescriptorSets(_commands, PipelineBindPoint.Compute, pipeline.Layout, 0, 1, &set, 0, null);
        if (push.Length > 0)
        {
            fixed (byte* p = push)
            {
                vk.CmdPushConstants(_commands, pipeline.Layout, ShaderStageFlags.ComputeBit, 0, (uint)push.Length, p);
            }
        }

        vk.CmdDispatch(_commands, groupsX, groupsY, groupsZ);
        DispatchCount++;
        if (Profile is DispatchProfile profile && !profile.Full)
        {
            profile.Add(pipeline.Name);
            vk.CmdWriteTimestamp(_commands, PipelineStageFlags.BottomOfPipeBit, profile.Pool.Handle, (uint)profile.Count);
        }
    }

    /// <summary>Makes every earlier shader or transfer write visible to every later shader or transfer access. Hazard
    /// tracking places the barriers a recording needs; this is for what it cannot see (host-side reuse of memory).</summary>
    public void Barrier()
    {
        EnsureRecording();
        EmitBarrier();
        BarrierCount++;
        _accessCount = 0;
    }

    private void EmitBarrier()
    {
        var barrier = new MemoryBarrier { SType = StructureType.MemoryBarrier, SrcAccessMask = WriteAccess, DstAccessMask = ReadAccess };
        _context.Api.CmdPipelineBarrier(_commands, DeviceStages, DeviceStages, 0, 1, &barrier, 0, null, 0, null);
    }

    /// <summary>Places a barrier if <paramref name="accesses"/> conflict with an access since the last one (a write
    /// on either side of an overlap), then remembers them.</summary>
    private void Track(ReadOnlySpan<BufferAccess> accesses)
    {
        bool hazard = _accessCount + accesses.Length > _accesses.Length;
        for (int i = 0; i < accesses.Length && !hazard; i++)
        {
            for (int j = 0; j < _accessCount; j++)
            {
                if ((accesses[i].Write || _accesses[j].Write) && accesses[i].Overlaps(_accesses[j]))
                {
                    hazard = true;
                    break;
                }
            }
        }

        if (hazard)
        {
            Barrier();
        }

        foreach (BufferAccess a in accesses)
        {
            _accesses[_accessCount++] = a;
        }
    }

    public void Copy(GpuBuffer source, ulong sourceOffset, GpuBuffer destination, ulong destinationOffset, ulong bytes)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        EnsureRecording();
        Track([new BufferAccess(source.Id, sourceOffset, sourceOffset + bytes, false), new BufferAccess(destination.Id, destinationOffset, destinationOffset + bytes, true)]);
        var region = new BufferCopy { SrcOffset = sourceOffset, DstOffset = destinationOffset, Size = bytes };
        _context.Api.CmdCopyBuffer(_commands, source.Handle, destination.Handle, 1, &region);
    }

    /// <summary>Fills <paramref name="bytes"/> (a multiple of 4) at <paramref name="offset"/> with the 32-bit <paramref name="value"/>.</summary>
    public void Fill(GpuBuffer buffer, ulong offset, ulong bytes, uint value)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        EnsureRecording();
        Track([new BufferAccess(buffer.Id, offset, offset + bytes, true)]);
        _context.Api.CmdFillBuffer(_commands, buffer.Handle, offset, bytes, value);
    }

    public void ResetTimestamps(TimestampPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        EnsureRecording();
        _context.Api.CmdResetQueryPool(_commands, pool.Handle, 0, pool.Count);
    }

    /// <summary>Writes a timestamp once all earlier commands have finished.</summary>
    public void WriteTimestamp(TimestampPool pool, uint index)
    {
        ArgumentNullException.ThrowIfNull(pool);
        EnsureRecording();
        _context.Api.CmdWriteTimestamp(_commands, PipelineStageFlags.BottomOfPipeBit, pool.Handle, index);
    }

    /// <summary>Ends the recording; device writes are made visible to host reads after the fence.</summary>
    public void End()
    {
        EnsureRecording();
        EndBatch(hostReadBarrier: true, signal: -1);
        _recording = false;
    }

    /// <summary>Submits the recording without waiting; <see cref="Wait"/> waits.</summary>
    public void Submit()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_recording)
        {
            throw new InvalidOperationException("Submit before End: the command buffer is still recording");
        }

        _context.ThrowIfLost();
        _context.FlushUploads();   // writes gathered for upload land before any work that may read them
        Wait();
        Fence fence = _fence;
        VulkanException.Check(_context.Api.ResetFences(_context.Device, 1, &fence), "vkResetFences");
        if (_points > 0 && _timeline.Handle == 0)
        {
            _timeline = CreateTimeline();
        }

        // One submit of all batches; the values of this submit's points follow the last submit's.
        int n = _batches.Count;
        SubmitInfo* submits = stackalloc SubmitInfo[n];
        TimelineSemaphoreSubmitInfo* values = stackalloc TimelineSemaphoreSubmitInfo[n];
        ulong* waitValues = stackalloc ulong[n];
        ulong* signalValues = stackalloc ulong[n];
        CommandBuffer* buffers = stackalloc CommandBuffer[n];
        Semaphore timeline = _timeline;
        PipelineStageFlags waitStages = DeviceStages;
        for (int i = 0; i < n; i++)
        {
            Batch b = _batches[i];
            buffers[i] = _buffers[i];
            waitValues[i] = _timelineNext + 2 * (ulong)b.WaitPoint + 2;
            signalValues[i] = _timelineNext + 2 * (ulong)b.SignalPoint + 1;
            bool waits = b.WaitPoint >= 0, signals = b.SignalPoint >= 0;
            values[i] = new TimelineSemaphoreSubmitInfo
            {
                SType = StructureType.TimelineSemaphoreSubmitInfo,
                WaitSemaphoreValueCount = waits ? 1u : 0,
                PWaitSemaphoreValues = waits ? &waitValues[i] : null,
                SignalSemaphoreValueCount = signals ? 1u : 0,
                PSignalSemaphoreValues = signals ? &signalValues[i] : null,
            };
            submits[i] = new SubmitInfo
            {
                SType = StructureType.SubmitInfo,
                PNext = _points > 0 ? &values[i] : null,
                WaitSemaphoreCount = waits ? 1u : 0,
                PWaitSemaphores = waits ? &timeline : null,
                PWaitDstStageMask = waits ? &waitStages : null,
                CommandBufferCount = 1,
                PCommandBuffers = &buffers[i],
                SignalSemaphoreCount = signals ? 1u : 0,
                PSignalSemaphores = signals ? &timeline : null,
            };
        }

        VulkanException.Check(_context.Api.QueueSubmit(_context.Queue, (uint)n, submits, _fence), "vkQueueSubmit");
        _context.Submitted();
        _submittedBase = _timelineNext;
        _timelineNext += 2 * (ulong)_points;
        _released = 0;
        _pending = true;
    }

    private Semaphore CreateTimeline()
    {
        var type = new SemaphoreTypeCreateInfo { SType = StructureType.SemaphoreTypeCreateInfo, SemaphoreType = SemaphoreType.Timeline, InitialValue = 0 };
        var info = new SemaphoreCreateInfo { SType = StructureType.SemaphoreCreateInfo, PNext = &type };
        Semaphore semaphore;
        VulkanException.Check(_context.Api.CreateSemaphore(_context.Device, &info, null, &semaphore), "vkCreateSemaphore (timeline)");
        return semaphore;
    }

    public void Wait()
    {
        if (!_pending)
        {
            return;
        }

        // A hand-off the host never released (its work failed) would hold the device forever: release the rest in
        // order, each after the device reaches it, so the timeline only rises.
        while (_released < _points)
        {
            AwaitDevice(_released);
            Release(_released);
        }

        Fence fence = _fence;
        Result result = _context.Waited(_context.Api.WaitForFences(_context.Device, 1, &fence, true, ulong.MaxValue), whole: true);
        _pending = false;   // done or failed, nothing is left to wait for: a lost device must not be waited on again
        VulkanException.Check(result, "vkWaitForFences");
    }

    public void SubmitAndWait()
    {
        Submit();
        Wait();
    }

    private void EnsureRecording()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!_recording)
        {
            throw new InvalidOperationException("The command recorder is not recording: call Begin first");
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        if (_pending)
        {
            Wait();
        }

        _disposed = true;
        VkApi vk = _context.Api;
        vk.DestroyFence(_context.Device, _fence, null);
        if (_timeline.Handle != 0)
        {
            vk.DestroySemaphore(_context.Device, _timeline, null);
        }

        foreach (CommandBuffer b in _buffers)
        {
            CommandBuffer commands = b;
            vk.FreeCommandBuffers(_context.Device, _context.CommandPool, 1, &commands);
        }
    }
}
