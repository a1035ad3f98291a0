using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>
/// Base of the typed kernel wrappers: one shader, its bindings, its push-constant struct <typeparamref name="TPush"/>
/// and its specialization. Checks at construction that the C# side agrees with the SPIR-V (binding kinds, and the
/// push-constant block's member offsets and size against <typeparamref name="TPush"/>'s fields), so a shader edit that
/// the wrapper did not follow fails loudly, not silently.
/// </summary>
internal abstract class Kernel<TPush> : IDisposable
    where TPush : unmanaged
{
    private readonly ComputePipeline _pipeline;

    /// <summary>Builds the pipeline after checking the wrapper against the SPIR-V. <paramref name="readOnly"/>: bindings
    /// this specialisation never writes though the shader declares them writable (a mode switched by a specialisation
    /// constant), which hazard tracking then takes as read.</summary>
    protected Kernel(GpuContext context, ShaderId shader, BindingKind[] bindings, SpecConstant[] specialization, uint requiredSubgroupSize = 0,
        bool fullSubgroups = false, uint readOnly = 0)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(bindings);
        Context = context;
        Shader = shader;
        ReadOnlyMemory<byte> spirv = ShaderLibrary.Spirv(shader);
        SpirvReflection reflection = CheckAgainstSpirv(shader, spirv, bindings);
        CheckPushConstants(shader, reflection);
        _pipeline = context.CreatePipeline(new PipelineDescription(
            ShaderLibrary.FileName(shader), spirv, bindings, (uint)Unsafe.SizeOf<TPush>(), specialization)
        {
            RequiredSubgroupSize = requiredSubgroupSize,
            RequireFullSubgroups = fullSubgroups,
            WrittenBindings = reflection.WrittenBindings.Aggregate(0u, (mask, b) => mask | 1u << (int)b) & ~readOnly,
        });
    }

    public GpuContext Context { get; }
    public ShaderId Shader { get; }

    /// <summary>The cached descriptor set for these ranges (made on first use).</summary>
    public DescriptorBinding Bind(params ReadOnlySpan<BindingResource> resources) => _pipeline.Bind(resources);

    protected static void Dispatch(CommandRecorder recorder, DescriptorBinding binding, in TPush push, uint groupsX, uint groupsY = 1)
    {
        ArgumentNullException.ThrowIfNull(recorder);
        recorder.Dispatch(binding, in push, groupsX, groupsY);
    }

    /// <summary>Throws unless <paramref name="range"/> holds at least <paramref name="elements"/> elements of <paramref name="elementBytes"/>.</summary>
    protected void Require(BufferRange range, ulong elements, ulong elementBytes, string what)
    {
        if (range.Size < elements * elementBytes)
        {
            throw new ArgumentException(
                $"{ShaderLibrary.FileName(Shader)}: {what} needs {elements} elements ({elements * elementBytes} bytes); '{range.Buffer.Name}' range has {range.Size}");
        }
    }

    private static SpirvReflection CheckAgainstSpirv(ShaderId shader, ReadOnlyMemory<byte> spirv, BindingKind[] bindings)
    {
        SpirvReflection r = SpirvReflection.Parse(spirv.Span);
        for (uint i = 0; i < bindings.Length; i++)
        {
            if (!r.Bindings.TryGetValue(i, out BindingKind kind) || kind != bindings[i])
            {
                throw new InvalidOperationException($"{ShaderLibrary.FileName(shader)}: binding {i} is not a {bindings[i]} binding in the shader");
            }
        }

        if (r.Bindings.Count != bindings.Length)
        {
            throw new InvalidOperationException($"{ShaderLibrary.FileName(shader)}: the shader has {r.Bindings.Count} bindings, the wrapper {bindings.Length}");
        }

        return r;
    }

    private static void CheckPushConstants(ShaderId shader, SpirvReflection r)
    {
        uint[] host = [.. typeof(TPush).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)
            .Select(f => (uint)Marshal.OffsetOf<TPush>(f.Name))
            .Order()];
        if (!host.AsSpan().SequenceEqual([.. r.PushConstantOffsets]) || (uint)Unsafe.SizeOf<TPush>() != r.PushConstantSize)
        {
            throw new InvalidOperationException(
                $"{ShaderLibrary.FileName(shader)}: {typeof(TPush).Name} has members at [{string.Join(", ", host)}] and {Unsafe.SizeOf<TPush>()} bytes; the shader's push constants are at [{string.Join(", ", r.PushConstantOffsets)}] and {r.PushConstantSize} bytes");
        }
    }

    /// <summary>The tuning a wrapper's constructor reads, checked once.</summary>
    protected static DeviceTuning Tuned(DeviceTuning tuning)
    {
        ArgumentNullException.ThrowIfNull(tuning);
        return tuning;
    }

    protected static uint DivideUp(ulong n, uint by) => (uint)((n + by - 1) / by);

    public void Dispose()
    {
        _pipeline.Dispose();
        GC.SuppressFinalize(this);
    }
}
