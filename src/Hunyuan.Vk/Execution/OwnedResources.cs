using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>Device objects with one owner, disposed together in reverse order of creation.</summary>
internal sealed class OwnedResources : IDisposable
{
    private readonly List<IDisposable> _items = [];

    public IEnumerable<IDisposable> Items => _items;

    public T Add<T>(T item)
        where T : IDisposable
    {
        _items.Add(item);
        return item;
    }

    /// <summary>A device buffer of <paramref name="floats"/> 32-bit values (at least one), owned here.</summary>
    public GpuBuffer Floats(GpuContext context, long floats, string name) => Add(context.CreateBuffer((ulong)Math.Max(floats, 1) * 4, name));

    public void Dispose()
    {
        for (int i = _items.Count - 1; i >= 0; i--)
        {
            _items[i].Dispose();
        }

        _items.Clear();
    }
}
