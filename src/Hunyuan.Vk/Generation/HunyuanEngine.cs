using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Text;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Generation;

/// <summary>
/// The embeddable engine: load a model once, then generate or chat with streaming and cancellation; dispose to free
/// the device. One generation at a time. <see cref="AsChatClient"/> adapts it to Microsoft.Extensions.AI's IChatClient.
/// </summary>
public sealed class HunyuanEngine : IDisposable
{
    private readonly VulkanInstance? _instance;
    private readonly GpuContext? _context;
    private readonly TextGenerator _generator;
    private readonly SemaphoreSlim _busy = new(1, 1);

    private HunyuanEngine(VulkanInstance? instance, GpuContext? context, TextGenerator generator, string executor)
    {
        _instance = instance;
        _context = context;
        _generator = generator;
        Executor = executor;
    }

    public HunyuanTokenizer Tokenizer => _generator.Tokenizer;

    /// <summary>For tests of what carries a reply (the chat client, the server): each generation that has no
    /// <see cref="GenerateOptions.ScriptedReply"/> of its own takes the next one queued here, in order.</summary>
    internal System.Collections.Concurrent.ConcurrentQueue<IReadOnlyList<int>> ScriptedReplies { get; } = new();
    public HunyuanConfig Config => _generator.Config;
    /// <summary>The Vulkan device that runs the model; null on the host executor.</summary>
    public DeviceInfo? Device => _context?.Info;

    /// <summary>What runs the model, in words: the Vulkan device's name, or the host executor with its threads.</summary>
    public string Executor { get; }

    /// <summary>For tests that hold a generation at a known point, whatever the machine's speed: when set, each generated
    /// token waits for a permit (or for its cancellation) before it is handed out.</summary>
    internal SemaphoreSlim? TokenPermits { get; set; }

    /// <summary>Device memory allocated now (tests check that serving many requests leaves it flat).</summary>
    internal long DeviceBytesAllocated => _context?.AllocatedBytes ?? 0;

    internal long DeviceAllocations => _context?.Allocations ?? 0;

    internal long DeviceWaits => _context?.Waits ?? 0;

    /// <summary>The device weight format in use.</summary>
    public WeightFormat Format { get; private init; }

    /// <summary>Where the routed experts are: layers on the device and on the host, and why (null on the host executor).</summary>
    public ExpertPlacement? Placement => _generator.Placement;

    /// <summary>KV-cache positions: the most prompt plus generated tokens of one call.</summary>
    public int ContextLength => _generator.ContextLength;

    /// <summary>Defaults from the checkpoint's generation_config.json (stop ids among them).</summary>
    public GenerationConfig Generation => _generator.Generation;

    /// <summary>Loads the checkpoint in <paramref name="modelDirectory"/> on the executor the options choose (see
    /// <see cref="EngineOptions.Executor"/>): on a Vulkan device, the memory estimate checked and the weights uploaded;
    /// on the host, into host memory. The log hears which executor runs and why.</summary>
    public static HunyuanEngine Load(string modelDirectory, EngineOptions? options = null)
    {
        options ??= new EngineOptions();
        if (options.ContextLength < 2)
        {
            throw new ArgumentException($"ContextLength {options.ContextLength}: a context holds at least 2 positions (a prompt token and a reply token)");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(options.Threads);
        WeightFormat format = options.Weights ?? WeightFormats.DefaultFor(HunyuanConfig.Load(modelDirectory));
        ExecutorChoice choice = (options.Device is int index ? ExecutorChoice.Device(index) : options.Executor).Resolve(out string why);
        if (choice.Host)
        {
            RefuseDevicePlacement(options.DeviceMemory, options.HostExpertLayers, why);
            string executor = $"the host executor ({HostThreads(options.Threads)} threads, {HostCompute.HostKernels.Best})";
            options.Log?.Invoke($"running on {executor}: {why}");
            TextGenerator onHost = TextGenerator.LoadOnHost(modelDirectory, format, options.ContextLength, options.KvCache, options.Threads, options.Log, options.Progress);
            return new HunyuanEngine(null, null, onHost, executor) { Format = format };
        }

        var instance = new VulkanInstance();
        GpuContext? context = null;
        try
        {
            context = instance.CreateContext(choice.DeviceIndex);
            context.Log = options.Log;
            options.Log?.Invoke($"running on {context.Info.Name}: {why}; loading {modelDirectory} as {format}");
            TextGenerator generator = TextGenerator.Load(context, modelDirectory, format, options.ContextLength, options.Log, options.Progress,
                options.DeviceMemory, options.HostExpertLayers, options.KvCache);
            return new HunyuanEngine(instance, context, generator, context.Info.Name) { Format = format };
        }
        catch
        {
            context?.Dispose();
            instance.Dispose();
            throw;
        }
    }

    /// <summary>Device memory and expert placement say how a model splits between a Vulkan device and the host; the
    /// host executor holds everything on the host, so they are refused there rather than ignored.</summary>
    internal static void RefuseDevicePlacement(long? deviceMemory, int? hostExpertLayers, string why)
    {
        if (deviceMemory is not null || hostExpertLayers is not null)
        {
            throw new ArgumentException(
                $"{(deviceMemory is not null ? "--device-memory (DeviceMemory)" : "--host-experts (HostExpertLayers)")} places weights on a Vulkan device, but the host executor runs the model ({why}), every weight in host memory: leave it out, or choose a device with --device N or --device vulkan");
        }
    }

    private static int HostThreads(int threads) => threads > 0 ? threads : Environment.ProcessorCount;

    /// <summary>The prompt ids of a conversation: the chat template rendered, then encoded with special tokens allowed,
    /// as the reference stack does (Transformers' template, then its tokenizer): special-token text inside a message
    /// (<c>&lt;|eos|&gt;</c>, say) becomes that token too.</summary>
    public List<int> EncodeChat(IReadOnlyList<ChatMessage> messages, bool thinking, IReadOnlyList<JsonNode>? tools = null) =>
        Tokenizer.Encode(ChatTemplate.Render(messages, new ChatTemplateOptions { Thinking = thinking, Tools = tools }), allowSpecial: true);

    /// <summary>
    /// The generated token ids after <paramref name="promptIds"/>, one at a time as the device produces them, up to a
    /// stop id (yielded too) or <see cref="GenerateOptions.MaxTokens"/>. The engine serves one generation at a time (a
    /// second enumeration waits); it is free again when the enumeration ends or is disposed. Cancellation stops before
    /// the next token.
    /// </summary>
    public IEnumerable<int> GenerateTokens(IReadOnlyList<int> promptIds, GenerateOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(promptIds);
        options ??= new GenerateOptions();
        GenerationConfig g = _generator.Generation;
        var sampling = Sampling.From(g, options.Temperature, options.TopK, options.TopP, options.RepetitionPenalty, options.Seed);
        // Arguments are checked now, not at the first MoveNext.
        IEnumerable<int> tokens = _generator.Generate(promptIds, options.MaxTokens, sampling, g.EosTokenIds, options.Stats ?? new GenerationStats(),
            options.ThinkBudget, options.OnLogits, options.ScriptedReply ?? (ScriptedReplies.TryDequeue(out IReadOnlyList<int>? s) ? s : null));
        return Exclusive(tokens, cancellationToken);
    }

    private IEnumerable<int> Exclusive(IEnumerable<int> tokens, CancellationToken cancellationToken)
    {
        _busy.Wait(cancellationToken);   // one generation at a time: a second caller waits its turn
        try
        {
            foreach (int token in tokens)
            {
                cancellationToken.ThrowIfCancellationRequested();
                TokenPermits?.Wait(cancellationToken);
                yield return token;
            }
        }
        finally
        {
            _busy.Release();
        }
    }

    /// <summary>Streams the reply to a conversation (rendered with the chat template), split into reasoning and answer.</summary>
    public async IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerateOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new GenerateOptions();
        List<int> ids = EncodeChat(messages, options.Thinking, options.Tools);
        await foreach (GenerationUpdate update in StreamAsync(ids, options, parse: true, cancellationToken).ConfigureAwait(false))
        {
            yield return update;
        }
    }

    /// <summary>Streams the reply to a chat prompt already rendered and encoded (<see cref="EncodeChat"/>: a server
    /// checks its length first), split into reasoning, answer and tool calls.</summary>
    public IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<int> promptIds, GenerateOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(promptIds, options ?? new GenerateOptions(), parse: true, cancellationToken);

    /// <summary>Streams the continuation of raw prompt tokens (no template, no parsing: all answer text).</summary>
    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(IReadOnlyList<int> promptIds, GenerateOptions? options = null, CancellationToken cancellationToken = default) =>
        StreamAsync(promptIds, options ?? new GenerateOptions(), parse: false, cancellationToken);

    private async IAsyncEnumerable<GenerationUpdate> StreamAsync(IReadOnlyList<int> promptIds, GenerateOptions options, bool parse,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        // Bounded: the producer waits for the reader, so a cancelled stream stops generating at once.
        var channel = Channel.CreateBounded<GenerationUpdate>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
        Task producer = Task.Run(() => Produce(promptIds, options, parse, channel.Writer, cancellationToken), cancellationToken);
        try
        {
            await foreach (GenerationUpdate update in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return update;
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        finally
        {
            await producer.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);   // let it finish before the next call
        }

        await producer.ConfigureAwait(false);
    }

    private void Produce(IReadOnlyList<int> promptIds, GenerateOptions options, bool parse, ChannelWriter<GenerationUpdate> writer, CancellationToken cancellationToken)
    {
        try
        {
            GenerationStats stats = options.Stats ?? new GenerationStats();
            options = options with { Stats = stats };
            var reply = new ReplyDecoder(Tokenizer, chat: parse);
            var stop = new StopSequences(options.StopSequences);
            int calls = 0;
            void Write(GenerationUpdate u) => writer.WriteAsync(u, cancellationToken).AsTask().GetAwaiter().GetResult();
            bool Emit(IReadOnlyList<ReplyDelta> deltas, bool final)
            {
                bool stopped = false;
                foreach (ReplyDelta d in deltas)
                {
                    string text = d.Text;
                    if (d.Part == ReplyPart.Answer)
                    {
                        (text, stopped) = stop.Push(text);
                    }

                    if (text.Length > 0)
                    {
                        Write(new GenerationUpdate(d.Part, text));
                    }

                    if (stopped)
                    {
                        return true;
                    }
                }

                if (final && stop.Flush() is { Length: > 0 } held)
                {
                    Write(new GenerationUpdate(ReplyPart.Answer, held));
                }

                for (; calls < reply.ToolCalls.Count; calls++)
                {
                    ToolCall call = reply.ToolCalls[calls] with { Id = "call_" + Guid.NewGuid().ToString("N")[..24] };
                    Write(new GenerationUpdate(ReplyPart.ToolCall, call.Arguments?.ToJsonString() ?? "{}") { Call = call });
                }

                return false;
            }

            bool stoppedByText = false;
            foreach (int token in GenerateTokens(promptIds, options, cancellationToken))
            {
                if (Emit(reply.Push(token), final: false))
                {
                    stoppedByText = true;
                    break;   // leaving the loop ends the generation
                }
            }

            if (stoppedByText)
            {
                stats.FinishReason = FinishReason.Stop;
            }
            else
            {
                Emit(reply.Finish(), final: true);
            }

            if (calls > 0 && stats.FinishReason == FinishReason.Stop)
            {
                stats.FinishReason = FinishReason.ToolCalls;
            }

            writer.TryComplete();
        }
        catch (Exception e)
        {
            writer.TryComplete(e);
        }
    }

    /// <summary>This engine as a Microsoft.Extensions.AI chat client (the engine stays owned by the caller).</summary>
    public Microsoft.Extensions.AI.IChatClient AsChatClient() => new HunyuanChatClient(this);

    public void Dispose()
    {
        _generator.Dispose();
        _context?.Dispose();
        _instance?.Dispose();
        _busy.Dispose();
    }
}
