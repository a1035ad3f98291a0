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
public sealed unsafe partial class CommandRecorder : IDisposable
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

    /// <summary>Bytes the dispatches recorded since <see cref="Begin"/> declared they stream from their read-only inputs
    /// (<see cref="AddStreamedBytes"/>; the engine's kernels declare the weights they read).</summary>
    public ulong StreamedBytes { get; private set; }

    /// <summary>When set (between recordings), the next recordings time each dispatch on the GPU.</summary>
    public DispatchProfile? Profile { get; set; }

    /// <summary>Notes that the last dispatch streams <paramref name="bytes"/> from its read-only inputs: for bandwidth figures.</summary>
    public void AddStreamedBytes(ulong bytes)
    {
        StreamedBytes += bytes;
        Profile?.AddStreamedBytes(bytes);
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
        StreamedBytes = 0;
        _recording = true;
        StartBatch(-1);
        if (Profile is DispatchProfile profile)
        {
            profile.Reset();
            _context.Api.CmdResetQueryPool(_commands, profile.Pool.Handle, 0, profile.Pool.Count);
            _context.Api.CmdWriteTimestamp(_commands, PipelineStageFlags.BottomOfPipeBit, profile.Pool.Handle, 0);
        }
    }

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
