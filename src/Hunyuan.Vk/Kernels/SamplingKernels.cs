using System.Runtime.InteropServices;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/argmax.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct ArgmaxPush(uint N, uint Slot);

/// <summary>Push constants of shaders/include/embed.glsl.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct EmbedPush(uint Cols, uint TokenOffset);

/// <summary>Greedy token choice on the GPU: tokens[slot] = argmax(logits), ties to the lower index (shaders/argmax.comp).</summary>
public sealed class ArgmaxKernel : Kernel<ArgmaxPush>
{
    public ArgmaxKernel(GpuContext context, DeviceTuning tuning)
        : base(context, ShaderId.Argmax, [BindingKind.Storage, BindingKind.Storage], [SpecConstant.FromUInt32(0, tuning?.ReductionWorkgroup ?? 0)])
    {
    }

    public void Record(CommandRecorder recorder, BufferRange logits, BufferRange tokens, uint n, uint slot = 0)
    {
        Require(logits, n, 4, "logits");
        Require(tokens, (ulong)slot + 1, 4, "tokens");
        Dispatch(recorder, Bind(logits, tokens), new ArgmaxPush(n, slot), 1);
    }
}

/// <summary>Embedding rows of the token ids in a buffer, dequantized (shaders/embed_*.comp).</summary>
public sealed class EmbedKernel : Kernel<EmbedPush>
{
    private readonly uint _workgroup;

    public EmbedKernel(GpuContext context, DeviceTuning tuning, WeightFormat format)
        : base(context, ShaderFor(format), Bindings(format), [SpecConstant.FromUInt32(0, tuning?.ElementwiseWorkgroup ?? 0)])
    {
        Format = format;
        _workgroup = tuning!.ElementwiseWorkgroup;
    }

    public WeightFormat Format { get; }

    public void Record(CommandRecorder recorder, DeviceMatrix embedding, BufferRange tokens, BufferRange output, uint count, uint tokenOffset = 0)
    {
        ArgumentNullException.ThrowIfNull(embedding);
        if (embedding.Format != Format)
        {
            throw new ArgumentException($"{ShaderLibrary.FileName(Shader)} reads {Format}; the embedding is {embedding.Format}");
        }

        Require(tokens, (ulong)tokenOffset + count, 4, "tokens");
        Require(output, (ulong)count * (ulong)embedding.Cols, 4, "output");
        var list = new ResourceList();
        Dispatch(recorder, Bind(ResourceList.Join(ref list, embedding.Tables, tokens, output)), new EmbedPush((uint)embedding.Cols, tokenOffset), DivideUp((ulong)embedding.Cols / 32, _workgroup), count);
        recorder.AddWeightBytes(count * embedding.BytesPerMatrix / (ulong)embedding.Rows);   // one row per token
    }

    private static ShaderId ShaderFor(WeightFormat f) => f switch
    {
        WeightFormat.F32 => ShaderId.EmbedF32,
        WeightFormat.F16 => ShaderId.EmbedF16,
        WeightFormat.Q8 => ShaderId.EmbedQ8,
        WeightFormat.Q4 => ShaderId.EmbedQ4,
        _ => ShaderId.EmbedQ4z,
    };

    private static BindingKind[] Bindings(WeightFormat f) => [.. DeviceMatrix.TableBindings(f), BindingKind.Storage, BindingKind.Storage];
}
