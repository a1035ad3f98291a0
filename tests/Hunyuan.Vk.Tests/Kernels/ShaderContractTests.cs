using System.Runtime.InteropServices;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

/// <summary>
/// Every shader is embedded and reflects; every weight format has every per-format kernel; and a kernel wrapper whose
/// push-constant struct does not mirror its shader cannot be built (each wrapper checks itself at construction, so
/// every kernel test covers its own).
/// </summary>
public sealed class ShaderContractTests : VulkanTest
{
    private static IEnumerable<string> Shaders => Enum.GetNames<ShaderId>();

    /// <summary>The kernels of shaders/variants.txt, built once per format.</summary>
    private static readonly string[] s_perFormat = ["matvec", "moe_gate_up", "moe_down", "matmul", "moe_prefill_gate_up", "moe_prefill_down", "embed"];

    [TestCaseSource(nameof(Shaders))]
    public void Every_shader_is_embedded_as_valid_spirv(string name)
    {
        ReadOnlyMemory<byte> spirv = ShaderLibrary.Spirv(Enum.Parse<ShaderId>(name));
        Assert.That(spirv.Length, Is.GreaterThan(20).And.Matches<int>(n => n % 4 == 0));
        SpirvReflection r = SpirvReflection.Parse(spirv.Span);
        Assert.That(r.PushConstantSize, Is.EqualTo(r.PushConstantOffsets.Count == 0 ? 0 : r.PushConstantOffsets[^1] + 4), "all push constants are 32-bit scalars");
    }

    /// <summary>
    /// #24 point 6: a device the probe accepts (Vulkan 1.2, a compute queue, subgroup arithmetic in compute) runs every
    /// shader: the shaders declare no SPIR-V capability beyond Shader, SampledBuffer (texel buffers, core) and
    /// GroupNonUniform(Arithmetic). So no other feature is required of a device (storageBuffer16BitAccess was,
    /// though no shader reads 16-bit storage); a shader that needs one must add it to DeviceProbe's refusals first.
    /// </summary>
    [Test]
    public void The_shaders_need_no_capability_that_the_probe_does_not_require()
    {
        const uint Shader = 1, SampledBuffer = 46, GroupNonUniform = 61, GroupNonUniformArithmetic = 63;
        uint[] required = [Shader, SampledBuffer, GroupNonUniform, GroupNonUniformArithmetic];
        foreach (string name in Shaders)
        {
            SpirvReflection r = SpirvReflection.Parse(ShaderLibrary.Spirv(Enum.Parse<ShaderId>(name)).Span);
            Assert.That(r.Capabilities, Is.SubsetOf(required), name);
            Assert.That(r.Capabilities, Does.Contain(Shader), $"{name}: capabilities are read");
        }
    }

    /// <summary>#24 point 6: a kernel that binds more descriptors of a kind than the device allows per stage is refused
    /// by name when it is built (rope_norm_kv binds 7 storage buffers; Vulkan guarantees only 4), not left to fail in
    /// the driver.</summary>
    [Test]
    public void A_kernel_that_binds_more_descriptors_than_the_device_allows_is_refused_by_name()
    {
        using (GpuContext seven = Gpu.Instance.CreateContext(Context.Info.Index, tighten: l => l with { MaxPerStageStorageBuffers = 7 }))
        {
            using var fits = new RopeNormKvKernel(seven, Gpu.Tuning);
        }

        using GpuContext six = Gpu.Instance.CreateContext(Context.Info.Index, tighten: l => l with { MaxPerStageStorageBuffers = 6 });
        Assert.That(() => new RopeNormKvKernel(six, Gpu.Tuning).Dispose(), Throws.TypeOf<VulkanException>()
            .With.Message.Contains("rope_norm_kv").And.Message.Contains("binds 7 Storage descriptors").And.Message.Contains("allows 6 per shader stage (maxPerStageDescriptorStorageBuffers)"));
    }

    [Test]
    public void Every_weight_format_has_every_per_format_kernel()
    {
        foreach (WeightFormatSpec spec in WeightFormats.All)
        {
            foreach (string kernel in s_perFormat)
            {
                Assert.DoesNotThrow(() => ShaderLibrary.For(kernel, spec.Format), $"{kernel} for {spec.Name}");
            }
        }

        Assert.That(() => ShaderLibrary.Find("matvec_q3"), Throws.TypeOf<KeyNotFoundException>().With.Message.Contains("matvec_q3"));
        Assert.That(() => ShaderLibrary.For("matvec", (WeightFormat)99), Throws.TypeOf<ArgumentOutOfRangeException>(), "an unknown format is an error, never a fallback");
    }

    [Test]
    public void A_push_constant_struct_that_does_not_mirror_its_shader_cannot_be_built()
    {
        // argmax.comp's block is { uint n; uint slot; }: one member short, one too many, and a reordered size all fail.
        Assert.That(() => new ArgmaxWith<OneMember>(Context).Dispose(), Throws.InvalidOperationException.With.Message.Contains("argmax").And.Message.Contains("push constants"));
        Assert.That(() => new ArgmaxWith<ThreeMembers>(Context).Dispose(), Throws.InvalidOperationException);
        Assert.That(() => new ArgmaxWith<WideSecond>(Context).Dispose(), Throws.InvalidOperationException);
        Assert.DoesNotThrow(() => new ArgmaxWith<TwoMembers>(Context).Dispose());
    }

    [Test]
    public void Reflection_reads_bindings_and_push_constants()
    {
        SpirvReflection r = SpirvReflection.Parse(ShaderLibrary.Spirv(ShaderId.RmsNorm).Span);
        Assert.That(r.Bindings.Keys, Is.EquivalentTo(new uint[] { 0, 1, 2 }));
        Assert.That(r.Bindings.Values, Is.All.EqualTo(BindingKind.Storage));
        Assert.That(r.PushConstantOffsets, Is.EqualTo(new uint[] { 0, 4 }));
        Assert.That(r.PushConstantSize, Is.EqualTo(8));
        Assert.That(r.WrittenBindings, Is.EquivalentTo(new uint[] { 2 }), "x and the weight are readonly, y is written");
    }

    [Test]
    public void Reflection_sees_every_output_of_a_multi_output_shader()
    {
        // rope_norm_kv: qkv, inv_freq, q_norm, k_norm in; q, k cache, v cache out.
        SpirvReflection r = SpirvReflection.Parse(ShaderLibrary.Spirv(ShaderId.RopeNormKv).Span);
        Assert.That(r.WrittenBindings, Is.EquivalentTo(new uint[] { 4, 5, 6 }));
    }

    [Test]
    public void Reflection_rejects_what_is_not_spirv()
    {
        Assert.Throws<InvalidDataException>(() => SpirvReflection.Parse(new byte[64]));
    }

    [Test]
    public void Limits_shared_with_glsl_are_what_the_shaders_were_built_with()
    {
        // moe_route writes struct Route (limits.glsl) per token; its size in C# comes from the same #define.
        Assert.That(MoeRoute.Bytes, Is.EqualTo(ShaderLimits.MaxRouteSlots * 8UL));
        Assert.That(MoeGroupKernel.GroupUints, Is.EqualTo(2UL * ShaderLimits.MaxExpertGroups));
        Assert.That(() => new MatVecKernel(Context, Gpu.Tuning, WeightFormat.Q8, ShaderLimits.MaxCols + 32).Dispose(),
            Throws.TypeOf<ArgumentOutOfRangeException>().With.Message.Contains("MAX_COLS"), "x wider than the uniform buffer the shader declares");
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct OneMember(uint N);

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct TwoMembers(uint N, uint Slot);

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct ThreeMembers(uint N, uint Slot, uint Extra);

    [StructLayout(LayoutKind.Sequential)]
    private readonly record struct WideSecond(uint N, ulong Slot);

    private sealed class ArgmaxWith<TPush>(GpuContext context)
        : Kernel<TPush>(context, ShaderId.Argmax, [BindingKind.Storage, BindingKind.Storage], [SpecConstant.FromUInt32(0, 8)])
        where TPush : unmanaged;
}
