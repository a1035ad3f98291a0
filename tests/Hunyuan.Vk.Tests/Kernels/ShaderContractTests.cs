using System.Reflection;
using System.Runtime.InteropServices;
using Hunyuan.Vk.Kernels;

namespace Hunyuan.Vk.Tests.Kernels;

/// <summary>Every shader is embedded, and every push-constant struct mirrors its GLSL block byte for byte.</summary>
public sealed class ShaderContractTests
{
    [Test]
    public void Every_shader_is_embedded_as_valid_spirv([Values] ShaderId id)
    {
        ReadOnlyMemory<byte> spirv = ShaderLibrary.Spirv(id);
        Assert.That(spirv.Length, Is.GreaterThan(20).And.Matches<int>(n => n % 4 == 0));
        Assert.DoesNotThrow(() => SpirvReflection.Parse(spirv.Span));
    }

    [TestCase(ShaderId.BinaryOp, typeof(BinaryOpPush))]
    [TestCase(ShaderId.RmsNorm, typeof(RmsNormPush))]
    [TestCase(ShaderId.MatvecF32, typeof(MatVecPush))]
    [TestCase(ShaderId.MatvecF16, typeof(MatVecPush))]
    [TestCase(ShaderId.MatvecQ8, typeof(MatVecPush))]
    [TestCase(ShaderId.MatvecQ4, typeof(MatVecPush))]
    [TestCase(ShaderId.MatvecQ4z, typeof(MatVecPush))]
    [TestCase(ShaderId.MoeGateUpQ4, typeof(MatVecPush))]
    [TestCase(ShaderId.MoeDownQ8, typeof(MatVecPush))]
    [TestCase(ShaderId.MoeRoute, typeof(MoeRoutePush))]
    [TestCase(ShaderId.MoeCombine, typeof(MoeCombinePush))]
    [TestCase(ShaderId.RopeNormKv, typeof(RopeNormKvPush))]
    [TestCase(ShaderId.AttnDecode, typeof(AttentionDecodePush))]
    [TestCase(ShaderId.AttnCombine, typeof(AttentionCombinePush))]
    [TestCase(ShaderId.Argmax, typeof(ArgmaxPush))]
    [TestCase(ShaderId.EmbedQ4, typeof(EmbedPush))]
    [TestCase(ShaderId.Topk, typeof(TopKPush))]
    [TestCase(ShaderId.Sample, typeof(SamplePush))]
    [TestCase(ShaderId.MatmulQ4, typeof(MatMulPush))]
    [TestCase(ShaderId.MatmulQ4z, typeof(MatMulPush))]
    [TestCase(ShaderId.MatmulF32, typeof(MatMulPush))]
    [TestCase(ShaderId.MoePrefillGateUpQ4, typeof(MatMulPush))]
    [TestCase(ShaderId.MoePrefillDownQ8, typeof(MatMulPush))]
    [TestCase(ShaderId.MoeGroup, typeof(MoeGroupPush))]
    [TestCase(ShaderId.MoeScatter, typeof(MoeScatterPush))]
    [TestCase(ShaderId.RepetitionPenalty, typeof(RepetitionPenaltyPush))]
    public void Push_constants_match_the_shader(ShaderId id, Type push)
    {
        IReadOnlyList<uint> shaderOffsets = SpirvReflection.Parse(ShaderLibrary.Spirv(id).Span).PushConstantOffsets;
        uint[] hostOffsets = push.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(f => (uint)Marshal.OffsetOf(push, f.Name))
            .Order()
            .ToArray();

        Assert.That(hostOffsets, Is.EqualTo(shaderOffsets), $"{push.Name} vs {ShaderLibrary.FileName(id)}.comp push-constant member offsets");
        Assert.That(Marshal.SizeOf(push), Is.EqualTo(shaderOffsets.Count * 4), "size (all members are 32-bit)");
    }

    [Test]
    public void Reflection_reads_bindings_and_push_constants()
    {
        SpirvReflection r = SpirvReflection.Parse(ShaderLibrary.Spirv(ShaderId.RmsNorm).Span);
        Assert.That(r.Bindings.Keys, Is.EquivalentTo(new uint[] { 0, 1, 2 }));
        Assert.That(r.Bindings.Values, Is.All.EqualTo(Vk.Vulkan.BindingKind.Storage));
        Assert.That(r.PushConstantOffsets, Is.EqualTo(new uint[] { 0, 4 }));
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
}
