namespace Hunyuan.Vk.Vulkan;

/// <summary>Bytes of a buffer that one command reads or writes.</summary>
internal readonly record struct BufferAccess(long BufferId, ulong Start, ulong End, bool Write)
{
    public static BufferAccess Of(in BindingResource r, bool write) => r.View is TexelView v
        ? new(v.Buffer.Id, v.Offset, v.Offset + v.Bytes, false)
        : new(r.Range.Buffer.Id, r.Range.Offset, r.Range.Offset + r.Range.Size, write);

    public bool Overlaps(in BufferAccess other) => BufferId == other.BufferId && Start < other.End && other.Start < End;
}
