namespace Hunyuan.Vk.Vulkan;

/// <summary>
/// Writes to device buffers the host cannot map (discrete GPUs): gathered in one persistent staging buffer, made on
/// first use, and copied by one command buffer that is submitted when the staging buffer is full, when the outermost
/// batch ends (<see cref="GpuContext.BatchUploads"/>), or before any other submit of the context, so GPU work never
/// sees a write that has not landed. Outside a batch each write is submitted at once, as before. A model load thus
/// costs one submit per <see cref="Capacity"/> bytes instead of an allocation, a submit and a wait per tensor.
/// </summary>
internal sealed class StagedUploads(GpuContext context) : IDisposable
{
    public const ulong Capacity = 64UL << 20;
    private GpuBuffer? _staging;
    private CommandRecorder? _copies;
    private ulong _used;
    private int _batches;
    private bool _flushing;

    public void Write(GpuBuffer target, ReadOnlySpan<byte> bytes, ulong offset)
    {
        while (!bytes.IsEmpty)
        {
            if (_used == Capacity)
            {
                Flush();
            }

            if (_used == 0)
            {
                _staging ??= context.CreateHostBuffer(Capacity, "upload staging");
                _copies ??= context.CreateRecorder();
                _copies.Begin();
            }

            int n = (int)Math.Min((ulong)bytes.Length, Capacity - _used);
            _staging!.Write(bytes[..n], _used);
            _copies!.Copy(_staging, _used, target, offset, (ulong)n);
            _used += (ulong)n;
            offset += (ulong)n;
            bytes = bytes[n..];
        }

        if (_batches == 0)
        {
            Flush();
        }
    }

    public void BeginBatch() => _batches++;

    public void EndBatch()
    {
        if (--_batches == 0)
        {
            Flush();
        }
    }

    /// <summary>Submits the gathered copies and waits for them (nothing when none are pending).</summary>
    public void Flush()
    {
        if (_used == 0 || _flushing)
        {
            return;
        }

        _flushing = true;   // the copies' own submit must not flush again
        try
        {
            _copies!.End();
            _copies.SubmitAndWait();
        }
        finally
        {
            _used = 0;
            _flushing = false;
        }
    }

    public void Dispose()
    {
        Flush();
        _copies?.Dispose();
        _staging?.Dispose();
    }
}
