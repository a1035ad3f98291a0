using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>What the head (final norm, lm_head, token choice) writes and reads besides the layers' activations: the
/// logits and the token history the repetition penalty sees; all f32 unless said.</summary>
internal sealed class HeadBuffers : IDisposable
{
    private readonly OwnedResources _owned = new();

    public HeadBuffers(GpuContext context, HunyuanConfig c, int maxPositions)
    {
        try
        {
            Logits = _owned.Floats(context, c.VocabSize, "logits");
            PenalisedLogits = _owned.Floats(context, c.VocabSize, "logits after the repetition penalty");
            History = _owned.Floats(context, maxPositions, "token history");
            PenaltyScratch = _owned.Floats(context, maxPositions, "repetition penalty scratch");
        }
        catch
        {
            _owned.Dispose();
            throw;
        }
    }

    /// <summary>Device bytes of the buffers above and of the sampler's scratch.</summary>
    public static long Bytes(HunyuanConfig c, int maxPositions) => 4L * (2L * c.VocabSize + 2L * maxPositions) + (long)Sampler.ScratchBytes((uint)c.VocabSize);

    public GpuBuffer Logits { get; }              // [vocab]: the lm_head's output, raw
    public GpuBuffer PenalisedLogits { get; }     // [vocab]: the logits after the repetition penalty
    public GpuBuffer History { get; }             // [positions] u32: every token run, for the repetition penalty
    public GpuBuffer PenaltyScratch { get; }      // [positions] u32: the penalty's once-per-token marks

    public void Dispose() => _owned.Dispose();
}
