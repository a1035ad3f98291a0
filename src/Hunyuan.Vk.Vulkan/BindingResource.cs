namespace Hunyuan.Vk.Vulkan;

/// <summary>What one descriptor binding holds: a buffer range (storage or uniform) or a texel view.</summary>
public readonly record struct BindingResource(BufferRange Range, TexelView? View)
{
    public static implicit operator BindingResource(BufferRange range) => new(range, null);

    public static implicit operator BindingResource(TexelView view) => new(default, view);

    public static BindingResource FromBufferRange(BufferRange range) => range;

    public static BindingResource FromTexelView(TexelView view) => view;

    public GpuBuffer Buffer => View?.Buffer ?? Range.Buffer;
}

/// <summary>
/// Room for up to 8 binding resources on the stack, so kernels whose binding list depends on a weight format can
/// build it without allocating: <c>var list = new ResourceList(); Bind(ResourceList.Join(ref list, tables, x, y))</c>.
/// </summary>
[System.Runtime.CompilerServices.InlineArray(Capacity)]
public struct ResourceList
{
    public const int Capacity = 8;
    private BindingResource _first;

    /// <summary><paramref name="first"/> then <paramref name="rest"/>, laid out in <paramref name="into"/>.</summary>
    public static ReadOnlySpan<BindingResource> Join(ref ResourceList into, ReadOnlySpan<BindingResource> first, params ReadOnlySpan<BindingResource> rest)
    {
        Span<BindingResource> all = into;
        first.CopyTo(all);
        rest.CopyTo(all[first.Length..]);
        return all[..(first.Length + rest.Length)];
    }
}
