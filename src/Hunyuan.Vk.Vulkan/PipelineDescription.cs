namespace Hunyuan.Vk.Vulkan;

/// <summary>What a shader binding holds.</summary>
public enum BindingKind
{
    /// <summary>A storage buffer (SSBO): read and written by the shader; range up to maxStorageBufferRange.</summary>
    Storage,

    /// <summary>A uniform buffer (UBO): read-only, small (maxUniformBufferRange), broadcast-friendly.</summary>
    Uniform,

    /// <summary>A uniform texel buffer: a typed, read-only view (<see cref="TexelView"/>) read with texelFetch.</summary>
    UniformTexel,
}

/// <summary>A specialization constant: <c>layout(constant_id = Id)</c> set to the 32 bits of <see cref="Bits"/>.</summary>
public readonly record struct SpecConstant(uint Id, uint Bits)
{
    public static SpecConstant FromInt32(uint id, int value) => new(id, unchecked((uint)value));

    public static SpecConstant FromUInt32(uint id, uint value) => new(id, value);

    public static SpecConstant FromSingle(uint id, float value) => new(id, BitConverter.SingleToUInt32Bits(value));
}

/// <summary>Everything needed to build a compute pipeline: SPIR-V, the bindings of set 0 in order, push constants, specialization.</summary>
public sealed record PipelineDescription(
    string Name,
    ReadOnlyMemory<byte> Spirv,
    IReadOnlyList<BindingKind> Bindings,
    uint PushConstantBytes,
    IReadOnlyList<SpecConstant> SpecConstants)
{
    /// <summary>Optional: the subgroup size to require (VK_EXT_subgroup_size_control), or 0 for the driver's choice.</summary>
    public uint RequiredSubgroupSize { get; init; }

    /// <summary>Require full subgroups (VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT): every subgroup
    /// of a workgroup is complete, so a shader may give each subgroup its own rows and reduce them with subgroup ops.</summary>
    public bool RequireFullSubgroups { get; init; }

    /// <summary>
    /// Bit i set: the shader may write binding i. The command recorder places barriers from this (a write followed by
    /// any access of the same bytes, or a read followed by a write). Uniform and texel bindings are never written;
    /// by default every storage binding counts as written.
    /// </summary>
    public uint WrittenBindings { get; init; } = uint.MaxValue;

    /// <summary>Whether the shader may write binding <paramref name="index"/>.</summary>
    public bool Writes(int index) => Bindings[index] == BindingKind.Storage && (WrittenBindings >> index & 1) != 0;
}
