using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Silk.NET.Vulkan;

namespace Hunyuan.Vk.Vulkan;

/// <summary>
/// One command buffer and its fence: record dispatches, copies and timestamps, then submit. Barriers are placed by
/// hazard tracking: the recorder knows the bytes each command reads and writes (from the pipeline's written
/// bindings), and puts a barrier before a command only when it touches bytes that an earlier command since the last
/// barrier wrote, or writes bytes that one read. Independent commands share one barrier. A recording can be submitted
/// again without re-recording. Recording allocates nothing.
/// </summary>
public sealed unsafe class CommandRecorder : IDisposable
{
    private readonly GpuContext _context;
    private readonly CommandBuffer _commands;
    private readonly Fence _fence;
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
        var alloc = new CommandBufferAllocateInfo
        {
            SType = StructureType.CommandBufferAllocateInfo,
            CommandPool = context.CommandPool,
            Level = CommandBufferLevel.Primary,
            CommandBufferCount = 1,
        };
        CommandBuffer commands;
        VulkanException.Check(vk.AllocateCommandBuffers(context.Device, &alloc, &commands), "vkAllocateCommandBuffers");
        _commands = commands;
        var fenceInfo = new FenceCreateInfo { SType = StructureType.FenceCreateInfo };
        Fence fence;
        VulkanException.Check(vk.CreateFence(context.Device, &fenceInfo, null, &fence), "vkCreateFence");
        _fence = fence;
    }

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
        var info = new CommandBufferBeginInfo { SType = StructureType.CommandBufferBeginInfo };
        VulkanException.Check(_context.Api.ResetCommandBuffer(_commands, 0), "vkResetCommandBuffer");
        VulkanException.Check(_context.Api.BeginCommandBuffer(_commands, &info), "vkBeginCommandBuffer");
        _boundPipeline = default;
        DispatchCount = 0;
        BarrierCount = 0;
        WeightBytes = 0;
        _accessCount = 0;
        _recording = true;
        // Hazard tracking sees one recording; this orders it after everything submitted before (a barrier's first scope
        // is all earlier commands in submission order), so work of an earlier submit is visible here. Not counted.
        EmitBarrier();
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
        const PipelineStageFlags Stages = PipelineStageFlags.ComputeShaderBit | PipelineStageFlags.TransferBit;
        var barrier = new MemoryBarrier
        {
            SType = StructureType.MemoryBarrier,
            SrcAccessMask = AccessFlags.ShaderWriteBit | AccessFlags.TransferWriteBit,
            DstAccessMask = AccessFlags.ShaderReadBit | AccessFlags.ShaderWriteBit | AccessFlags.TransferReadBit | AccessFlags.TransferWriteBit
                | AccessFlags.UniformReadBit,
        };
        _context.Api.CmdPipelineBarrier(_commands, Stages, Stages, 0, 1, &barrier, 0, null, 0, null);
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
        var barrier = new MemoryBarrier
        {
            SType = StructureType.MemoryBarrier,
            SrcAccessMask = AccessFlags.ShaderWriteBit | AccessFlags.TransferWriteBit,
            DstAccessMask = AccessFlags.HostReadBit,
        };
        _context.Api.CmdPipelineBarrier(_commands, PipelineStageFlags.ComputeShaderBit | PipelineStageFlags.TransferBit,
            PipelineStageFlags.HostBit, 0, 1, &barrier, 0, null, 0, null);
        VulkanException.Check(_context.Api.EndCommandBuffer(_commands), "vkEndCommandBuffer");
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

        _context.FlushUploads();   // writes gathered for upload land before any work that may read them
        Wait();
        Fence fence = _fence;
        VulkanException.Check(_context.Api.ResetFences(_context.Device, 1, &fence), "vkResetFences");
        CommandBuffer commands = _commands;
        var submit = new SubmitInfo { SType = StructureType.SubmitInfo, CommandBufferCount = 1, PCommandBuffers = &commands };
        VulkanException.Check(_context.Api.QueueSubmit(_context.Queue, 1, &submit, _fence), "vkQueueSubmit");
        _context.Submitted();
        _pending = true;
    }

    public void Wait()
    {
        if (!_pending)
        {
            return;
        }

        Fence fence = _fence;
        VulkanException.Check(_context.Api.WaitForFences(_context.Device, 1, &fence, true, ulong.MaxValue), "vkWaitForFences");
        _pending = false;
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
        CommandBuffer commands = _commands;
        vk.FreeCommandBuffers(_context.Device, _context.CommandPool, 1, &commands);
    }
}
