using Silk.NET.Core.Native;
using Silk.NET.Vulkan;

namespace Hunyuan.Vk.Vulkan;

/// <summary>
/// A compute pipeline with its descriptor set layout (set 0), push-constant range and specialization baked in.
/// Descriptor sets for a given list of buffer ranges are made once and cached (<see cref="Bind"/>); a set is freed
/// when any buffer it names is disposed.
/// </summary>
public sealed unsafe class ComputePipeline : IDisposable
{
    private readonly GpuContext _context;
    private readonly Dictionary<BindingKey, DescriptorBinding> _sets;
    private readonly Dictionary<BindingKey, DescriptorBinding>.AlternateLookup<ReadOnlySpan<BindingResource>> _lookup;
    private bool _disposed;

    internal Pipeline Handle { get; }
    internal PipelineLayout Layout { get; }
    internal DescriptorSetLayout SetLayout { get; }

    public PipelineDescription Description { get; }
    public string Name => Description.Name;

    internal ComputePipeline(GpuContext context, PipelineDescription description)
    {
        _context = context;
        Description = description;
        _sets = new Dictionary<BindingKey, DescriptorBinding>(BindingKey.Comparer);
        _lookup = _sets.GetAlternateLookup<ReadOnlySpan<BindingResource>>();
        VkApi vk = context.Api;
        DeviceInfo info = context.Info;
        if (description.PushConstantBytes > info.Limits.MaxPushConstantsSize)
        {
            throw new VulkanException(
                $"Pipeline '{description.Name}' needs {description.PushConstantBytes} bytes of push constants; the device allows {info.Limits.MaxPushConstantsSize}");
        }

        CheckDescriptorCounts(description, info.Limits);
        SetLayout = CreateSetLayout(vk, description);
        Layout = CreateLayout(vk, description, SetLayout);
        Handle = CreatePipeline(vk, description, Layout);
    }

    // The bindings of one pipeline are one stage's descriptors: each kind within its per-stage limit (rope_norm_kv binds
    // 7 storage buffers where Vulkan guarantees 4), all of them within maxPerStageResources.
    private static void CheckDescriptorCounts(PipelineDescription d, DeviceLimits limits)
    {
        void Check(BindingKind kind, uint limit, string name)
        {
            int count = d.Bindings.Count(b => b == kind);
            if (count > limit)
            {
                throw new VulkanException($"Pipeline '{d.Name}' binds {count} {kind} descriptors; the device allows {limit} per shader stage ({name})");
            }
        }

        Check(BindingKind.Storage, limits.MaxPerStageStorageBuffers, "maxPerStageDescriptorStorageBuffers");
        Check(BindingKind.Uniform, limits.MaxPerStageUniformBuffers, "maxPerStageDescriptorUniformBuffers");
        Check(BindingKind.UniformTexel, limits.MaxPerStageSampledImages, "maxPerStageDescriptorSampledImages");
        if (d.Bindings.Count > limits.MaxPerStageResources)
        {
            throw new VulkanException($"Pipeline '{d.Name}' binds {d.Bindings.Count} resources; the device allows {limits.MaxPerStageResources} per shader stage (maxPerStageResources)");
        }
    }

    /// <summary>The cached descriptor set that binds <paramref name="ranges"/> to bindings 0..n-1, made on first use.
    /// Finding a cached set allocates nothing.</summary>
    public DescriptorBinding Bind(params ReadOnlySpan<BindingResource> ranges)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_lookup.TryGetValue(ranges, out DescriptorBinding? cached))
        {
            return cached;
        }

        CheckRanges(ranges);
        (DescriptorSet set, DescriptorPool pool) = _context.Descriptors.Allocate(SetLayout);
        WriteSet(set, ranges);
        var key = new BindingKey(ranges);
        var accesses = new BufferAccess[ranges.Length];
        for (int i = 0; i < ranges.Length; i++)
        {
            accesses[i] = BufferAccess.Of(ranges[i], Description.Writes(i));
        }

        var binding = new DescriptorBinding(this, set, pool, key, accesses);
        _sets.Add(key, binding);
        foreach (BindingResource r in ranges)
        {
            r.Buffer.AddDependent(binding);
        }

        return binding;
    }

    internal void Forget(DescriptorBinding binding)
    {
        if (!_disposed && _sets.Remove(binding.Key))
        {
            _context.Descriptors.Free(binding.Pool, binding.Set);
        }
    }

    private void CheckRanges(ReadOnlySpan<BindingResource> ranges)
    {
        IReadOnlyList<BindingKind> kinds = Description.Bindings;
        if (ranges.Length != kinds.Count)
        {
            throw new ArgumentException($"Pipeline '{Name}' has {kinds.Count} bindings; {ranges.Length} buffers were given");
        }

        DeviceLimits limits = _context.Info.Limits;
        for (int i = 0; i < ranges.Length; i++)
        {
            if ((kinds[i] == BindingKind.UniformTexel) != (ranges[i].View is not null))
            {
                throw new ArgumentException($"Pipeline '{Name}' binding {i} is a {kinds[i]} binding; it was given a {(ranges[i].View is null ? "buffer range" : "texel view")}");
            }

            if (ranges[i].View is not null)
            {
                continue;
            }

            BufferRange r = ranges[i].Range;
            (ulong maxRange, ulong alignment) = kinds[i] == BindingKind.Uniform
                ? (limits.MaxUniformBufferRange, limits.MinUniformBufferOffsetAlignment)
                : (limits.MaxStorageBufferRange, limits.MinStorageBufferOffsetAlignment);
            if (r.Size == 0 || r.Size > maxRange)
            {
                throw new ArgumentException(
                    $"Pipeline '{Name}' binding {i} ({kinds[i]}): {r.Size} bytes of buffer '{r.Buffer.Name}' exceed the device's range limit of {maxRange} bytes");
            }

            if (r.Offset % alignment != 0)
            {
                throw new ArgumentException(
                    $"Pipeline '{Name}' binding {i}: offset {r.Offset} into '{r.Buffer.Name}' is not a multiple of the device's alignment {alignment}");
            }
        }
    }

    private void WriteSet(DescriptorSet set, ReadOnlySpan<BindingResource> ranges)
    {
        int n = ranges.Length;
        var infos = new DescriptorBufferInfo[n];
        var views = new BufferView[n];
        var writes = new WriteDescriptorSet[n];
        fixed (DescriptorBufferInfo* pInfos = infos)
        fixed (BufferView* pViews = views)
        {
            for (int i = 0; i < n; i++)
            {
                BufferRange r = ranges[i].Range;
                if (ranges[i].View is TexelView view)
                {
                    pViews[i] = view.Handle;
                }
                else
                {
                    pInfos[i] = new DescriptorBufferInfo { Buffer = r.Buffer.Handle, Offset = r.Offset, Range = r.Size };
                }

                writes[i] = new WriteDescriptorSet
                {
                    SType = StructureType.WriteDescriptorSet,
                    DstSet = set,
                    DstBinding = (uint)i,
                    DescriptorCount = 1,
                    DescriptorType = ToVk(Description.Bindings[i]),
                    PBufferInfo = ranges[i].View is null ? pInfos + i : null,
                    PTexelBufferView = ranges[i].View is null ? null : pViews + i,
                };
            }

            fixed (WriteDescriptorSet* pWrites = writes)
            {
                _context.Api.UpdateDescriptorSets(_context.Device, (uint)n, pWrites, 0, null);
            }
        }
    }

    private static DescriptorType ToVk(BindingKind kind) => kind switch
    {
        BindingKind.Uniform => DescriptorType.UniformBuffer,
        BindingKind.UniformTexel => DescriptorType.UniformTexelBuffer,
        _ => DescriptorType.StorageBuffer,
    };

    private DescriptorSetLayout CreateSetLayout(VkApi vk, PipelineDescription d)
    {
        var bindings = new DescriptorSetLayoutBinding[d.Bindings.Count];
        for (int i = 0; i < bindings.Length; i++)
        {
            bindings[i] = new DescriptorSetLayoutBinding
            {
                Binding = (uint)i,
                DescriptorType = ToVk(d.Bindings[i]),
                DescriptorCount = 1,
                StageFlags = ShaderStageFlags.ComputeBit,
            };
        }

        fixed (DescriptorSetLayoutBinding* p = bindings)
        {
            var info = new DescriptorSetLayoutCreateInfo
            {
                SType = StructureType.DescriptorSetLayoutCreateInfo,
                BindingCount = (uint)bindings.Length,
                PBindings = p,
            };
            DescriptorSetLayout layout;
            VulkanException.Check(vk.CreateDescriptorSetLayout(_context.Device, &info, null, &layout), $"vkCreateDescriptorSetLayout ({d.Name})");
            return layout;
        }
    }

    private PipelineLayout CreateLayout(VkApi vk, PipelineDescription d, DescriptorSetLayout setLayout)
    {
        var push = new PushConstantRange { StageFlags = ShaderStageFlags.ComputeBit, Offset = 0, Size = d.PushConstantBytes };
        var info = new PipelineLayoutCreateInfo
        {
            SType = StructureType.PipelineLayoutCreateInfo,
            SetLayoutCount = 1,
            PSetLayouts = &setLayout,
            PushConstantRangeCount = d.PushConstantBytes > 0 ? 1u : 0u,
            PPushConstantRanges = &push,
        };
        PipelineLayout layout;
        VulkanException.Check(vk.CreatePipelineLayout(_context.Device, &info, null, &layout), $"vkCreatePipelineLayout ({d.Name})");
        return layout;
    }

    private Pipeline CreatePipeline(VkApi vk, PipelineDescription d, PipelineLayout layout)
    {
        if (d.Spirv.Length == 0 || d.Spirv.Length % 4 != 0)
        {
            throw new VulkanException($"Pipeline '{d.Name}': SPIR-V of {d.Spirv.Length} bytes is not a whole number of words");
        }

        ShaderModule module;
        fixed (byte* code = d.Spirv.Span)
        {
            var moduleInfo = new ShaderModuleCreateInfo
            {
                SType = StructureType.ShaderModuleCreateInfo,
                CodeSize = (nuint)d.Spirv.Length,
                PCode = (uint*)code,
            };
            VulkanException.Check(vk.CreateShaderModule(_context.Device, &moduleInfo, null, &module), $"vkCreateShaderModule ({d.Name})");
        }

        int specCount = d.SpecConstants.Count;
        var entries = new SpecializationMapEntry[specCount];
        var data = new uint[Math.Max(specCount, 1)];
        for (int i = 0; i < specCount; i++)
        {
            entries[i] = new SpecializationMapEntry { ConstantID = d.SpecConstants[i].Id, Offset = (uint)(i * 4), Size = 4 };
            data[i] = d.SpecConstants[i].Bits;
        }

        nint entryName = SilkMarshal.StringToPtr("main");
        try
        {
            fixed (SpecializationMapEntry* pEntries = entries)
            fixed (uint* pData = data)
            {
                var spec = new SpecializationInfo
                {
                    MapEntryCount = (uint)specCount,
                    PMapEntries = pEntries,
                    DataSize = (nuint)(specCount * 4),
                    PData = pData,
                };
                var subgroup = new PipelineShaderStageRequiredSubgroupSizeCreateInfo
                {
                    SType = StructureType.PipelineShaderStageRequiredSubgroupSizeCreateInfo,
                    RequiredSubgroupSize = d.RequiredSubgroupSize,
                };
                bool requireSize = d.RequiredSubgroupSize != 0;
                if (requireSize && !_context.Info.Features.SubgroupSizeControl)
                {
                    throw new VulkanException($"Pipeline '{d.Name}' requires subgroup size {d.RequiredSubgroupSize}; the device has no subgroup size control");
                }

                if (d.RequireFullSubgroups && !_context.Info.Features.ComputeFullSubgroups)
                {
                    throw new VulkanException($"Pipeline '{d.Name}' requires full subgroups; the device lacks computeFullSubgroups");
                }

                var info = new ComputePipelineCreateInfo
                {
                    SType = StructureType.ComputePipelineCreateInfo,
                    Layout = layout,
                    Stage = new PipelineShaderStageCreateInfo
                    {
                        SType = StructureType.PipelineShaderStageCreateInfo,
                        Stage = ShaderStageFlags.ComputeBit,
                        Module = module,
                        PName = (byte*)entryName,
                        PSpecializationInfo = specCount > 0 ? &spec : null,
                        PNext = requireSize ? &subgroup : null,
                        Flags = d.RequireFullSubgroups ? PipelineShaderStageCreateFlags.RequireFullSubgroupsBit : 0,
                    },
                };
                Pipeline pipeline;
                VulkanException.Check(
                    vk.CreateComputePipelines(_context.Device, default, 1, &info, null, &pipeline), $"vkCreateComputePipelines ({d.Name})");
                return pipeline;
            }
        }
        finally
        {
            SilkMarshal.Free(entryName);
            vk.DestroyShaderModule(_context.Device, module, null);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        VkApi vk = _context.Api;
        foreach (DescriptorBinding b in _sets.Values)
        {
            _context.Descriptors.Free(b.Pool, b.Set);
        }

        _sets.Clear();
        _disposed = true;
        vk.DestroyPipeline(_context.Device, Handle, null);
        vk.DestroyPipelineLayout(_context.Device, Layout, null);
        vk.DestroyDescriptorSetLayout(_context.Device, SetLayout, null);
    }

    public override string ToString() => Name;

    /// <summary>Identity of a list of ranges: buffers by their unique id (never reused), offsets and sizes. Looked up
    /// by the span of resources itself (<see cref="Comparer"/>), so a cache hit builds no key.</summary>
    internal readonly struct BindingKey : IEquatable<BindingKey>
    {
        private readonly (long Id, ulong Offset, ulong Size, int Format)[] _items;
        private readonly int _hash;

        public BindingKey(ReadOnlySpan<BindingResource> ranges)
        {
            _items = new (long, ulong, ulong, int)[ranges.Length];
            for (int i = 0; i < ranges.Length; i++)
            {
                _items[i] = Item(ranges[i]);
            }

            _hash = Hash(ranges);
        }

        public static KeyComparer Comparer { get; } = new();

        private static (long Id, ulong Offset, ulong Size, int Format) Item(in BindingResource r) => r.View is TexelView v
            ? (v.Buffer.Id, v.Offset, v.Bytes, 1 + (int)v.Format)
            : (r.Range.Buffer.Id, r.Range.Offset, r.Range.Size, 0);

        private static int Hash(ReadOnlySpan<BindingResource> ranges)
        {
            var hash = new HashCode();
            foreach (BindingResource r in ranges)
            {
                hash.Add(Item(r));
            }

            return hash.ToHashCode();
        }

        private bool Matches(ReadOnlySpan<BindingResource> ranges)
        {
            if (ranges.Length != _items.Length)
            {
                return false;
            }

            for (int i = 0; i < ranges.Length; i++)
            {
                if (Item(ranges[i]) != _items[i])
                {
                    return false;
                }
            }

            return true;
        }

        public bool Equals(BindingKey other) => _items.AsSpan().SequenceEqual(other._items);

        public override bool Equals(object? obj) => obj is BindingKey k && Equals(k);

        public override int GetHashCode() => _hash;

        internal sealed class KeyComparer : IEqualityComparer<BindingKey>, IAlternateEqualityComparer<ReadOnlySpan<BindingResource>, BindingKey>
        {
            public bool Equals(BindingKey x, BindingKey y) => x.Equals(y);

            public int GetHashCode(BindingKey obj) => obj.GetHashCode();

            public bool Equals(ReadOnlySpan<BindingResource> alternate, BindingKey other) => other.Matches(alternate);

            public int GetHashCode(ReadOnlySpan<BindingResource> alternate) => Hash(alternate);

            public BindingKey Create(ReadOnlySpan<BindingResource> alternate) => new(alternate);
        }
    }
}
