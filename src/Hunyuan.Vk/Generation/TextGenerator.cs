using System.Diagnostics;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Text;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Generation;

/// <summary>
/// A loaded model ready to generate: the weights, the tokenizer, and a session with a KV cache of
/// <see cref="ContextLength"/> positions, on a Vulkan device (<see cref="DecodeSession"/>: the prompt in chunks on the
/// multi-token kernels, then one command buffer per token) or on the host's cores (<see cref="HostSession"/>).
/// </summary>
public sealed class TextGenerator : IDisposable
{
    private readonly IDisposable? _model;
    private readonly IModelSession _session;

    private TextGenerator(HunyuanConfig config, IDisposable? model, IModelSession session, HunyuanTokenizer tokenizer, GenerationConfig generation, int contextLength,
        ExpertPlacement? placement)
    {
        Config = config;
        Placement = placement;
        _model = model;
        _session = session;
        Tokenizer = tokenizer;
        Generation = generation;
        ContextLength = contextLength;
    }

    public HunyuanConfig Config { get; }
    public HunyuanTokenizer Tokenizer { get; }
    public GenerationConfig Generation { get; }
    public int ContextLength { get; }

    /// <summary>Where the routed experts are (null on the host executor: every weight is on the host).</summary>
    public ExpertPlacement? Placement { get; }

    /// <summary>Chooses where the routed experts go (<see cref="ExpertPlacement"/>), refusing what cannot fit the device
    /// and the host, then loads the weights layer by layer.</summary>
    /// <param name="context">The device.</param>
    /// <param name="modelDirectory">The checkpoint (Hugging Face layout) with its tokenizer.</param>
    /// <param name="format">Device weight format.</param>
    /// <param name="contextLength">KV-cache positions.</param>
    /// <param name="log">Hears the estimate before the load starts.</param>
    /// <param name="progress">Hears after the embedding and after each layer.</param>
    /// <param name="deviceMemory">Device bytes to use (null: what the device reports, less a margin).</param>
    /// <param name="hostExpertLayers">Layers whose routed experts go to the host (null: auto).</param>
    /// <param name="kvFormat">How the KV cache stores keys and values.</param>
    public static TextGenerator Load(GpuContext context, string modelDirectory, WeightFormat format, int contextLength, Action<string>? log = null,
        Action<LoadProgress>? progress = null, long? deviceMemory = null, int? hostExpertLayers = null, KvCacheFormat kvFormat = KvCacheFormat.F16)
    {
        ArgumentNullException.ThrowIfNull(context);
        using ModelWeights weights = ModelWeights.Open(modelDirectory);
        HunyuanTokenizer tokenizer = HunyuanTokenizer.FromModelDirectory(modelDirectory);
        DeviceModel model = ModelLoader.Load(context, weights, format, contextLength, new LoadOptions(deviceMemory, hostExpertLayers, kvFormat),
            out ExpertPlacement placement, log, progress);
        try
        {
            return new TextGenerator(model.Config, model, new DecodeSession(context, model, contextLength, kvFormat: kvFormat), tokenizer, weights.Generation, contextLength,
                placement);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads the checkpoint for the host executor: every weight in host memory, refused before anything is read
    /// when the estimate exceeds the memory available.</summary>
    /// <param name="modelDirectory">The checkpoint (Hugging Face layout) with its tokenizer.</param>
    /// <param name="format">Weight format.</param>
    /// <param name="contextLength">KV-cache positions.</param>
    /// <param name="kvFormat">How the KV cache stores keys and values.</param>
    /// <param name="threads">Threads (0: the machine's processors).</param>
    /// <param name="log">Hears the estimate before the load starts.</param>
    /// <param name="progress">Hears after the embedding and after each layer.</param>
    public static TextGenerator LoadOnHost(string modelDirectory, WeightFormat format, int contextLength, KvCacheFormat kvFormat = KvCacheFormat.F16, int threads = 0,
        Action<string>? log = null, Action<LoadProgress>? progress = null)
    {
        using ModelWeights weights = ModelWeights.Open(modelDirectory);
        HunyuanTokenizer tokenizer = HunyuanTokenizer.FromModelDirectory(modelDirectory);
        HostModel model = HostLoader.Load(weights, format, contextLength, kvFormat, log, progress);
        return new TextGenerator(model.Config, null, new HostSession(model, contextLength, kvFormat: kvFormat, threads: threads), tokenizer, weights.Generation,
            contextLength, null);
    }

    /// <summary>Generates after <paramref name="prompt"/> until a stop id or <paramref name="maxTokens"/>; yields each new token id
    /// (a stop id is yielded too, then generation ends).</summary>
    /// <param name="prompt">Prompt token ids.</param>
    /// <param name="maxTokens">Most tokens to generate (forced ones included).</param>
    /// <param name="sampling">How tokens are chosen.</param>
    /// <param name="stopIds">Ids that end the generation.</param>
    /// <param name="stats">Receives the timings.</param>
    /// <param name="thinkBudget">If set: after this many tokens of reasoning the thought is closed for the model
    /// (<c>\n&lt;/think&gt;\n&lt;answer&gt;\n</c> is fed as if generated) and it answers.</param>
    /// <param name="logits">If set: receives the logits [vocab] of every prompt position and every generated step, in order
    /// (the prompt then runs token by token instead of in chunks).</param>
    /// <param name="script">If set: the reply is these ids in place of the sampled ones (tests), ending after the last.</param>
    public IEnumerable<int> Generate(IReadOnlyList<int> prompt, int maxTokens, Sampling sampling, IReadOnlyCollection<int> stopIds, GenerationStats stats,
        int? thinkBudget = null, Action<float[]>? logits = null, IReadOnlyList<int>? script = null)
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

        if (script is not null && (script.Count == 0 || script.Any(id => (uint)id >= (uint)Config.VocabSize)))
        {
            throw new ArgumentException($"A scripted reply needs 1 or more ids below the vocabulary's {Config.VocabSize}");
        }

        int room = ContextLength - prompt.Count;
        return Run(prompt, Math.Min(maxTokens, room), maxTokens > room, sampling, stopIds, stats, thinkBudget, logits, script);
    }

    /// <summary>What closes a thought when the think budget is spent (docs/model.md 5.2: 198, 524, 27963, 397, 27, 9399, 397).</summary>
    public const string CloseThought = "\n</think>\n<answer>\n";

    private IEnumerable<int> Run(IReadOnlyList<int> prompt, int maxTokens, bool contextBound, Sampling sampling, IReadOnlyCollection<int> stopIds, GenerationStats stats,
        int? thinkBudget, Action<float[]>? logits, IReadOnlyList<int>? script)
    {
        var clock = Stopwatch.StartNew();
        int next = RunPrompt(prompt, sampling, logits, stats);
        stats.PromptTime = clock.Elapsed;
        clock.Restart();
        var forced = new Queue<int>(script ?? []);
        ThinkBudget? budget = thinkBudget is int b && script is null ? new ThinkBudget(Tokenizer, b) : null;
        stats.FinishReason = null;
        for (int i = 0; i < maxTokens; i++)
        {
            if (forced.Count > 0)
            {
                next = forced.Dequeue();   // a forced token replaces what the model chose
            }
            else if (next < 0)
            {
                // The greedy and the sampling kernels write no token (0xFFFFFFFF) when a logit is NaN or infinite.
                throw new InvalidDataException(
                    $"The logits at position {_session.Position - 1} are not finite (NaN or infinity): the weights or the activations overflowed; no token can be chosen");
            }

            stats.GeneratedTokens = i + 1;
            stats.DecodeTime = clock.Elapsed;
            bool stop = script is null ? stopIds.Contains(next) && forced.Count == 0 : forced.Count == 0;
            if (stop || i == maxTokens - 1)
            {
                stats.FinishReason = stop ? FinishReason.Stop : contextBound ? FinishReason.ContextFull : FinishReason.Length;
            }

            yield return next;
            if (stats.FinishReason is not null)
            {
                yield break;
            }

            foreach (int id in budget?.Next(next) ?? [])
            {
                forced.Enqueue(id);
            }

            next = _session.Step(next);
            if (logits is not null)
            {
                logits(ReadLogits());
            }
        }
    }

    /// <summary>Runs what the cache does not already hold of <paramref name="prompt"/> (a conversation's earlier turns are
    /// kept; at least one token runs, for its logits; logit dumps want every position, so they start from scratch);
    /// returns the first generated token.</summary>
    private int RunPrompt(IReadOnlyList<int> prompt, Sampling sampling, Action<float[]>? logits, GenerationStats stats)
    {
        int keep = logits is null ? Math.Min(_session.SharedPrefix(prompt), prompt.Count - 1) : 0;
        _session.Rewind(keep);
        _session.SetSampling(sampling);
        IReadOnlyList<int> fresh = keep == 0 ? prompt : [.. prompt.Skip(keep)];
        stats.PromptTokens = fresh.Count;
        stats.CachedPromptTokens = keep;
        if (logits is null)
        {
            return _session.Prefill(fresh);
        }

        int next = 0;
        foreach (int token in fresh)
        {
            next = _session.Step(token);
            logits(ReadLogits());
        }

        return next;
    }

    private float[] ReadLogits()
    {
        var values = new float[Config.VocabSize];
        _session.ReadLogits(values);
        return values;
    }

    public void Dispose()
    {
        _session.Dispose();
        _model?.Dispose();
    }
}
