using System.Diagnostics;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Text;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Generation;

/// <summary>
/// A loaded model ready to generate: weights on the device, the tokenizer, and a decode session with a KV cache of
/// <see cref="ContextLength"/> positions. The prompt runs in chunks on the multi-token kernels, then decoding continues
/// one token per command buffer.
/// </summary>
public sealed class TextGenerator : IDisposable
{
    private readonly DeviceModel _model;
    private readonly DecodeSession _session;

    private TextGenerator(DeviceModel model, DecodeSession session, HunyuanTokenizer tokenizer, GenerationConfig generation, int contextLength)
    {
        _model = model;
        _session = session;
        Tokenizer = tokenizer;
        Generation = generation;
        ContextLength = contextLength;
    }

    public HunyuanConfig Config => _model.Config;
    public HunyuanTokenizer Tokenizer { get; }
    public GenerationConfig Generation { get; }
    public int ContextLength { get; }

    public static TextGenerator Load(GpuContext context, string modelDirectory, WeightFormat format, int contextLength, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        using ModelWeights weights = ModelWeights.Open(modelDirectory);
        HunyuanTokenizer tokenizer = HunyuanTokenizer.FromModelDirectory(modelDirectory);
        var model = new DeviceModel(context, weights, format, progress);
        try
        {
            return new TextGenerator(model, new DecodeSession(context, model, contextLength), tokenizer, weights.Generation, contextLength);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Generates after <paramref name="prompt"/> until a stop id or <paramref name="maxTokens"/>; yields each new token id
    /// (a stop id is yielded too, then generation ends).</summary>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, int maxTokens, Sampling sampling, IReadOnlyCollection<int> stopIds, GenerationStats stats)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(stopIds);
        ArgumentNullException.ThrowIfNull(stats);
        if (prompt.Count == 0)
        {
            throw new ArgumentException("The prompt is empty");
        }

        if (prompt.Count + 1 > ContextLength)
        {
            throw new ArgumentException(
                $"The prompt has {prompt.Count} tokens; the context holds {ContextLength} (raise --context, or shorten the prompt)");
        }

        return Run(prompt, Math.Min(maxTokens, ContextLength - prompt.Count), sampling, stopIds, stats);
    }

    private IEnumerable<int> Run(IReadOnlyList<int> prompt, int maxTokens, Sampling sampling, IReadOnlyCollection<int> stopIds, GenerationStats stats)
    {
        _session.Reset();
        _session.SetSampling(sampling);
        var clock = Stopwatch.StartNew();
        int next = _session.Prefill(prompt);

        stats.PromptTokens = prompt.Count;
        stats.PromptTime = clock.Elapsed;
        clock.Restart();
        for (int i = 0; i < maxTokens; i++)
        {
            stats.GeneratedTokens = i + 1;
            stats.DecodeTime = clock.Elapsed;
            yield return next;
            if (stopIds.Contains(next) || i == maxTokens - 1)
            {
                yield break;
            }

            next = _session.Step(next);
        }
    }

    public void Dispose()
    {
        _session.Dispose();
        _model.Dispose();
    }
}
