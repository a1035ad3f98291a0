using Silk.NET.Vulkan;

namespace Hunyuan.Vk.Vulkan;

/// <summary>A descriptor set of one pipeline, bound to fixed buffer ranges. Owned by the pipeline's cache.</summary>
public sealed class DescriptorBinding
{
    internal DescriptorBinding(ComputePipeline pipeline, DescriptorSet set, DescriptorPool pool, ComputePipeline.BindingKey key, BufferAccess[] accesses)
    {
        Pipeline = pipeline;
        Set = set;
        Pool = pool;
        Key = key;
        Accesses = accesses;
    }

    /// <summary>The bytes each binding reads or writes, in binding order: what the recorder's hazard tracking sees.</summary>
    internal BufferAccess[] Accesses { get; }

    public ComputePipeline Pipeline { get; }
    internal DescriptorSet Set { get; }
    internal DescriptorPool Pool { get; }
    internal ComputePipeline.BindingKey Key { get; }
}
