using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>How the next token is chosen from the logits, on the device: the sampling settings and the random stream
/// that a seed makes reproducible (one uniform number per sampled token).</summary>
internal sealed class TokenChoice
{
    private Random _random = new(0);

    public Sampling Sampling { get; private set; } = Sampling.Greedy;

    public void Set(Sampling sampling)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        Sampling = sampling;
        _random = new Random(sampling.Seed);
    }

    /// <summary>Records the choice from the head's logits into <paramref name="token"/>: greedy or sampled, on the logits
    /// or on a penalised copy (the logits stay raw) after the repetition penalty over the <paramref name="seen"/> tokens
    /// of the history.</summary>
    public void Record(CommandRecorder r, KernelSet kernels, HeadBuffers head, BufferRange token, uint vocab, uint seen)
    {
        GpuBuffer choice = head.Logits;
        if (Sampling.RepetitionPenalty != 1f)
        {
            r.Copy(head.Logits, 0, head.PenalisedLogits, 0, head.Logits.Size);
            kernels.Penalty.Record(r, head.PenalisedLogits.All, head.History.All, head.PenaltyScratch.All, seen, Sampling.RepetitionPenalty);
            choice = head.PenalisedLogits;
        }

        if (Sampling.IsGreedy)
        {
            kernels.Argmax.Record(r, choice.All, token, vocab);
        }
        else
        {
            int topK = Math.Clamp(Sampling.TopK <= 0 ? Sampler.MaxK : Sampling.TopK, 1, Sampler.MaxK);
            kernels.Sampler.Record(r, choice.All, token, vocab, topK, Sampling.Temperature, Sampling.TopP, _random.NextSingle());
        }
    }
}
