using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>Each layer's keys and values, [positions, kv_heads, head_dim] f16, one buffer per layer and kind.</summary>
internal sealed class KvCache : IDisposable
{
    private readonly OwnedResources _owned = new();
    private readonly GpuBuffer[] _k, _v;

    public KvCache(GpuContext context, int layers, AttentionShape shape, int maxPositions)
    {
        ulong range = context.Info.Limits.MaxStorageBufferRange;
        ulong bytesPerPosition = (ulong)shape.KvDim * 2;
        if ((ulong)maxPositions * bytesPerPosition > range)
        {
            throw new ArgumentOutOfRangeException(nameof(maxPositions),
                $"A context of {maxPositions} positions needs {(ulong)maxPositions * bytesPerPosition} bytes of KV cache per layer; {context.Info.Name} binds at most {range} bytes at once (its maxStorageBufferRange), so {range / bytesPerPosition} positions at most");
        }

        MaxPositions = maxPositions;
        try
        {
            _k = [.. Enumerable.Range(0, layers).Select(l => _owned.Add(context.CreateBuffer((ulong)maxPositions * bytesPerPosition, $"layer {l} k cache")))];
            _v = [.. Enumerable.Range(0, layers).Select(l => _owned.Add(context.CreateBuffer((ulong)maxPositions * bytesPerPosition, $"layer {l} v cache")))];
        }
        catch
        {
            _owned.Dispose();
            throw;
        }
    }

    public int MaxPositions { get; }

    public GpuBuffer K(int layer) => _k[layer];

    public GpuBuffer V(int layer) => _v[layer];

    public void Dispose() => _owned.Dispose();
}
