using Silk.NET.Vulkan;
using Semaphore = Silk.NET.Vulkan.Semaphore;

namespace Hunyuan.Vk.Vulkan;

/// <summary>Submitting a recording, and waiting for it.</summary>
public sealed unsafe partial class CommandRecorder
{
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
}
