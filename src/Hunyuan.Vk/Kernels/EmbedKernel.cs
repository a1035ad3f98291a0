using System.Runtime.InteropServices;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/include/embed.glsl.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct EmbedPush(uint Cols, uint TokenOffset);

/// <summary>Embedding rows of the token ids in a buffer, dequantized (shaders/include/embed.glsl, per format).</summary>
internal sealed class EmbedKernel : Kernel<EmbedPush>
{
    private readonly uint _workgroup;

    public EmbedKernel(GpuContext context, DeviceTuning tuning, WeightFormat format)
        : base(context, ShaderFor(format), Bindings(format), [SpecConstant.FromUInt32(0, Tuned(tuning).ElementwiseWorkgroup)])
    {
        Format = format;
        _workgroup = tuning.ElementwiseWorkgroup;
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
        recorder.AddStreamedBytes(count * embedding.BytesPerMatrix / (ulong)embedding.Rows);   // one row per token
    }

    private static ShaderId ShaderFor(WeightFormat f) => ShaderLibrary.For("embed", f);

    private static BindingKind[] Bindings(WeightFormat f) => [.. DeviceMatrix.TableBindings(f), BindingKind.Storage, BindingKind.Storage];
}
