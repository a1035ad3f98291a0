using System.Runtime.InteropServices;
using Silk.NET.Vulkan;
using VkBuffer = Silk.NET.Vulkan.Buffer;

namespace Hunyuan.Vk.Vulkan;

/// <summary>
/// A Vulkan buffer with its own memory. Device buffers live in device-local memory; when that memory is also
/// host-visible (lavapipe, integrated GPUs) they are mapped and written directly, otherwise reads and writes go
/// through a staging buffer and a copy on the queue.
/// </summary>
public sealed unsafe class GpuBuffer : IDisposable
{
    // Weights are read through uniform texel views, whose formats (R8 uint, R16 float, RGBA32 uint/float) every
    // device must support; no kernel writes a texel buffer, so no buffer carries storage-texel usage, which would make
    // views of formats without storage-texel support invalid.
    private const BufferUsageFlags Usage = BufferUsageFlags.StorageBufferBit | BufferUsageFlags.UniformBufferBit
        | BufferUsageFlags.TransferSrcBit | BufferUsageFlags.TransferDstBit | BufferUsageFlags.UniformTexelBufferBit;

    private readonly GpuContext _context;
    private readonly DeviceMemory _memory;
    private readonly byte* _mapped;
    private readonly List<DescriptorBinding> _dependents = [];
    private readonly Dictionary<(TexelFormat, ulong, ulong), TexelView> _views = [];
    private static long s_nextId;
    private readonly long _allocation;
    private bool _disposed;

    private static long s_live;

    /// <summary>Buffers made and not yet disposed, in every context of the process (for tests that nothing leaks).</summary>
    public static long Live => Interlocked.Read(ref s_live);

    /// <summary>Unique for the process lifetime, so cached descriptor sets never confuse a new buffer with a freed one.</summary>
    internal long Id { get; } = Interlocked.Increment(ref s_nextId);

    internal VkBuffer Handle { get; }

    public string Name { get; }
    public ulong Size { get; }

    /// <summary>True when the host reads and writes this buffer's memory directly.</summary>
    public bool IsMapped => _mapped != null;

    internal GpuBuffer(GpuContext context, ulong bytes, string name, bool hostVisible)
    {
        ArgumentOutOfRangeException.ThrowIfZero(bytes);
        _context = context;
        Name = name;
        Size = bytes;
        DeviceLimits limits = context.Info.Limits;
        if (bytes > limits.MaxBufferSize)
        {
            throw new VulkanException($"Buffer '{name}' needs {bytes} bytes, above the device's maxBufferSize of {limits.MaxBufferSize}");
        }

        if (bytes > limits.MaxMemoryAllocationSize)
        {
            throw new VulkanException($"Buffer '{name}' needs {bytes} bytes in one allocation, above the device's maxMemoryAllocationSize of {limits.MaxMemoryAllocationSize}");
        }

        VkApi vk = context.Api;
        Handle = context.CreateRawBuffer(bytes, Usage);
        MemoryRequirements req;
        vk.GetBufferMemoryRequirements(context.Device, Handle, &req);
        uint type = context.FindMemoryType(req.MemoryTypeBits, hostVisible, out MemoryPropertyFlags flags);
        var alloc = new MemoryAllocateInfo
        {
            SType = StructureType.MemoryAllocateInfo,
            AllocationSize = req.Size,
            MemoryTypeIndex = type,
        };
        DeviceMemory memory;
        Result result = context.AllocateMemory(&alloc, &memory);
        if (result != Result.Success)
        {
            vk.DestroyBuffer(context.Device, Handle, null);
            VulkanException.Check(result, FormattableString.Invariant(
                $"vkAllocateMemory for buffer '{name}' ({bytes} bytes, {bytes / 1048576.0:F1} MiB; {context.AllocatedBytes / 1048576.0:F1} MiB held already)"));
        }

        Interlocked.Increment(ref s_live);

        _memory = memory;
        _allocation = (long)req.Size;
        context.Allocated(_allocation);
        VulkanException.Check(vk.BindBufferMemory(context.Device, Handle, _memory, 0), $"vkBindBufferMemory ('{name}')");
        const MemoryPropertyFlags Direct = MemoryPropertyFlags.HostVisibleBit | MemoryPropertyFlags.HostCoherentBit;
        if ((flags & Direct) == Direct && (hostVisible || !context.ForceStaging))
        {
            void* p;
            VulkanException.Check(vk.MapMemory(context.Device, _memory, 0, VkApi.WholeSize, 0, &p), $"vkMapMemory ('{name}')");
            _mapped = (byte*)p;
        }
    }

    /// <summary>Writes <paramref name="data"/> at <paramref name="byteOffset"/>. When the host cannot map the buffer the
    /// write goes through the context's staging buffer: at once, or with the batch of <see cref="GpuContext.BatchUploads"/>.</summary>
    public void Write<T>(ReadOnlySpan<T> data, ulong byteOffset = 0)
        where T : unmanaged
    {
        ReadOnlySpan<byte> bytes = MemoryMarshal.AsBytes(data);
        CheckRange(byteOffset, (ulong)bytes.Length);
        if (_mapped != null)
        {
            bytes.CopyTo(new Span<byte>(_mapped + byteOffset, bytes.Length));
            return;
        }

        WriteStaged(bytes, byteOffset);
    }

    // Apart from Write so that the mapped path stays the shortest.
    private void WriteStaged(ReadOnlySpan<byte> bytes, ulong byteOffset) => _context.Uploads.Write(this, bytes, byteOffset);

    /// <summary>Reads into <paramref name="destination"/> from <paramref name="byteOffset"/>. The device must be idle for this buffer.</summary>
    public void Read<T>(Span<T> destination, ulong byteOffset = 0)
        where T : unmanaged
    {
        Span<byte> bytes = MemoryMarshal.AsBytes(destination);
        CheckRange(byteOffset, (ulong)bytes.Length);
        if (_mapped != null)
        {
            new ReadOnlySpan<byte>(_mapped + byteOffset, bytes.Length).CopyTo(bytes);
            return;
        }

        ReadStaged(bytes, byteOffset);
    }

    private void ReadStaged(Span<byte> bytes, ulong byteOffset)
    {
        using GpuBuffer staging = _context.CreateHostBuffer((ulong)Math.Max(bytes.Length, 4), $"{Name} (read-back)");
        ulong length = (ulong)bytes.Length;
        _context.Run(r => r.Copy(this, byteOffset, staging, 0, length));
        staging.Read(bytes);
    }

    /// <summary>The whole buffer as a binding range.</summary>
    public BufferRange All => new(this, 0, Size);

    /// <summary>Part of the buffer as a binding range, in bytes.</summary>
    public BufferRange Slice(ulong byteOffset, ulong bytes)
    {
        CheckRange(byteOffset, bytes);
        return new BufferRange(this, byteOffset, bytes);
    }

    internal void AddDependent(DescriptorBinding binding) => _dependents.Add(binding);

    /// <summary>A texel view of <paramref name="bytes"/> at <paramref name="byteOffset"/> (made once, kept until the buffer is disposed).</summary>
    public TexelView View(TexelFormat format, ulong byteOffset, ulong bytes)
    {
        CheckRange(byteOffset, bytes);
        if (_views.TryGetValue((format, byteOffset, bytes), out TexelView? cached))
        {
            return cached;
        }

        DeviceLimits limits = _context.Info.Limits;
        ulong texelBytes = (ulong)TexelView.TexelBytes(format);
        if (bytes == 0 || bytes % texelBytes != 0)
        {
            throw new ArgumentException($"View of '{Name}': {bytes} bytes is not a whole number of {format} texels");
        }

        if (bytes / texelBytes > limits.MaxTexelBufferElements)
        {
            throw new ArgumentException(
                $"View of '{Name}': {bytes / texelBytes} {format} texels exceed the device's maxTexelBufferElements {limits.MaxTexelBufferElements}");
        }

        if (byteOffset % limits.MinTexelBufferOffsetAlignment != 0)
        {
            throw new ArgumentException($"View of '{Name}': offset {byteOffset} is not a multiple of minTexelBufferOffsetAlignment {limits.MinTexelBufferOffsetAlignment}");
        }

        var info = new BufferViewCreateInfo
        {
            SType = StructureType.BufferViewCreateInfo,
            Buffer = Handle,
            Format = TexelView.ToVk(format),
            Offset = byteOffset,
            Range = bytes,
        };
        BufferView handle;
        VulkanException.Check(_context.Api.CreateBufferView(_context.Device, &info, null, &handle), $"vkCreateBufferView ('{Name}', {format})");
        var view = new TexelView(this, handle, format, byteOffset, bytes);
        _views.Add((format, byteOffset, bytes), view);
        return view;
    }

    /// <summary>A texel view of the whole buffer.</summary>
    public TexelView View(TexelFormat format) => View(format, 0, Size / (ulong)TexelView.TexelBytes(format) * (ulong)TexelView.TexelBytes(format));

    private void CheckRange(ulong offset, ulong length)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset > Size || length > Size - offset)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"Bytes {offset}..{offset + length} are outside buffer '{Name}' of {Size} bytes");
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        if (_mapped == null)
        {
            _context.FlushUploads();   // no gathered copy may name a freed buffer
        }

        _disposed = true;
        foreach (DescriptorBinding binding in _dependents)
        {
            binding.Pipeline.Forget(binding);
        }

        _dependents.Clear();
        VkApi vk = _context.Api;
        foreach (TexelView view in _views.Values)
        {
            vk.DestroyBufferView(_context.Device, view.Handle, null);
        }

        _views.Clear();
        if (_mapped != null)
        {
            vk.UnmapMemory(_context.Device, _memory);
        }

        vk.DestroyBuffer(_context.Device, Handle, null);
        vk.FreeMemory(_context.Device, _memory, null);
        _context.Allocated(-_allocation);
        Interlocked.Decrement(ref s_live);
    }

    public override string ToString() => $"{Name} ({Size} bytes)";
}

/// <summary>A byte range of a buffer, as bound to a shader.</summary>
public readonly record struct BufferRange(GpuBuffer Buffer, ulong Offset, ulong Size);
