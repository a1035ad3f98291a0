using Silk.NET.Vulkan;

namespace Hunyuan.Vk.Vulkan;

/// <summary>Hands out descriptor sets from a growing list of pools; sets can be freed one by one.</summary>
internal sealed unsafe class DescriptorAllocator : IDisposable
{
    private const uint SetsPerPool = 1024;
    private readonly GpuContext _context;
    private readonly List<DescriptorPool> _pools = [];

    public DescriptorAllocator(GpuContext context) => _context = context;

    public (DescriptorSet Set, DescriptorPool Pool) Allocate(DescriptorSetLayout layout)
    {
        for (int attempt = 0; attempt < 2; attempt++)
        {
            if (_pools.Count > 0)
            {
                DescriptorPool pool = _pools[^1];
                var info = new DescriptorSetAllocateInfo
                {
                    SType = StructureType.DescriptorSetAllocateInfo,
                    DescriptorPool = pool,
                    DescriptorSetCount = 1,
                    PSetLayouts = &layout,
                };
                DescriptorSet set;
                Result r = _context.Api.AllocateDescriptorSets(_context.Device, &info, &set);
                if (r == Result.Success)
                {
                    return (set, pool);
                }

                if (r is not (Result.ErrorOutOfPoolMemory or Result.ErrorFragmentedPool))
                {
                    VulkanException.Check(r, "vkAllocateDescriptorSets");
                }
            }

            _pools.Add(CreatePool());
        }

        throw new VulkanException("vkAllocateDescriptorSets failed on a fresh pool");
    }

    public void Free(DescriptorPool pool, DescriptorSet set) =>
        VulkanException.Check(_context.Api.FreeDescriptorSets(_context.Device, pool, 1, &set), "vkFreeDescriptorSets");

    private DescriptorPool CreatePool()
    {
        DescriptorPoolSize* sizes = stackalloc DescriptorPoolSize[]
        {
            new() { Type = DescriptorType.StorageBuffer, DescriptorCount = SetsPerPool * 8 },
            new() { Type = DescriptorType.UniformBuffer, DescriptorCount = SetsPerPool * 2 },
            new() { Type = DescriptorType.UniformTexelBuffer, DescriptorCount = SetsPerPool * 4 },
        };
        var info = new DescriptorPoolCreateInfo
        {
            SType = StructureType.DescriptorPoolCreateInfo,
            Flags = DescriptorPoolCreateFlags.FreeDescriptorSetBit,
            MaxSets = SetsPerPool,
            PoolSizeCount = 3,
            PPoolSizes = sizes,
        };
        DescriptorPool pool;
        VulkanException.Check(_context.Api.CreateDescriptorPool(_context.Device, &info, null, &pool), "vkCreateDescriptorPool");
        return pool;
    }

    public void Dispose()
    {
        foreach (DescriptorPool pool in _pools)
        {
            _context.Api.DestroyDescriptorPool(_context.Device, pool, null);
        }

        _pools.Clear();
    }
}
