using System.Diagnostics;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// Token-by-token decoding of a <see cref="DeviceModel"/> with its KV cache: each step is one command buffer (all
/// layers, final norm, lm_head, token choice) and one submit; the next token id is written by the GPU into the token
/// buffer that the next step's embedding reads. The prompt runs in chunks on the multi-token kernels first.
/// </summary>
/// <remarks>The step is recorded again for every token (position and cache length are push constants), into two
/// command buffers in turn: step N+1 is recorded while the device runs step N, since the token it reads is already on
/// the device. Recording allocates nothing: descriptor sets are made on the first step and found again by their
/// ranges, barriers come from the recorder's hazard tracking, and the token goes in and out through a host-visible
/// buffer, so on a discrete GPU too a step is one submit and one fence wait. The kernels, the activations and the
/// cache live in <see cref="KernelSet"/>, <see cref="LayerActivations"/>, <see cref="HeadBuffers"/> and
/// <see cref="KvCache"/>, sized by one <see cref="SessionPlan"/>; this type records and submits.</remarks>
public sealed partial class DecodeSession : IModelSession
{
    private readonly DeviceModel _model;
    private readonly HunyuanConfig _config;
    private readonly MoeGating _gating;   // the config's, for a product that routes
    private readonly SessionPlan _plan;
    private readonly OwnedResources _owned = new();
    private readonly KernelSet _kernels;
    private readonly LayerActivations _one;     // a decode step's token
    private readonly LayerActivations _chunk;   // a prefill chunk's tokens
    private readonly HeadBuffers _head;
    private readonly KvCache _cache;
    private readonly HostExpertStage? _host;   // layers whose routed experts are on the host
    private readonly CommandRecorder[] _steps = new CommandRecorder[2];   // alternate: one runs while the next is recorded
    private readonly Range[] _stepLayers = new Range[2];                   // the layers' dispatches of each recording
    private readonly CommandRecorder _prefill;
    private int _current;
    private int _preparedFor = -1;        // the position the other recorder holds a finished recording for, or -1
    private TimeSpan _preparedRecordTime;
    private readonly TokenChoice _choice = new();
    private readonly uint[] _chunkIds;
    private GpuBuffer? _capture;

    /// <param name="context">The device.</param>
    /// <param name="model">The weights on it.</param>
    /// <param name="maxPositions">KV-cache positions.</param>
    /// <param name="prefillChunk">Prompt tokens per prefill command buffer (the multi-token kernels' batch).</param>
    /// <param name="overlapRecording">Record the next step while the device runs this one (the default; on lavapipe too,
    /// where it measured no slower, so the path GPUs take is the one every test runs).</param>
    /// <param name="kvFormat">How the KV cache stores keys and values.</param>
    public DecodeSession(GpuContext context, DeviceModel model, int maxPositions, int prefillChunk = 64, bool overlapRecording = true,
        KvCacheFormat kvFormat = KvCacheFormat.F16)
        : this(context, model, maxPositions, kvFormat, kvPagePositions: 0, prefillChunk, overlapRecording)
    {
    }

    /// <summary>As the public constructor, with <paramref name="kvPagePositions"/> KV-cache positions per page at most
    /// (0: one binding's worth): small pages let tests cross page boundaries with a small model.</summary>
    internal DecodeSession(GpuContext context, DeviceModel model, int maxPositions, KvCacheFormat kvFormat, int kvPagePositions, int prefillChunk = 64,
        bool overlapRecording = true)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPositions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(prefillChunk, 1);
        _model = model;
        _config = model.Config;
        _gating = new MoeGating(_config.Experts, _config.TopK, _config.SharedExperts > 0, _config.NormTopKProb, (float)_config.RoutedScalingFactor);
        _plan = SessionPlan.For(_config, context.Info, maxPositions, prefillChunk, kvFormat, kvPagePositions, model.HostLayers > 0);
        OverlapsRecording = overlapRecording;
        MaxPositions = maxPositions;
        PrefillChunk = _plan.PrefillChunk;
        try
        {
            _cache = _owned.Add(new KvCache(context, _config.Layers, _plan.Shape, maxPositions, kvFormat, (int)_plan.PagePositions));
            _kernels = _owned.Add(new KernelSet(context, _config, _plan.Shape, kvFormat));
            _one = _owned.Add(new LayerActivations(context, _plan.Decode, string.Empty));
            _chunk = _owned.Add(new LayerActivations(context, _plan.Prefill, "prefill "));
            _head = _owned.Add(new HeadBuffers(context, _config, maxPositions));
            _steps[0] = _owned.Add(context.CreateRecorder());
            _steps[1] = _owned.Add(context.CreateRecorder());
            _prefill = _owned.Add(context.CreateRecorder());
            if (model.HostLayers > 0)
            {
                _host = _owned.Add(new HostExpertStage(context, _config, PrefillChunk));
            }

            _chunkIds = new uint[PrefillChunk];
        }
        catch
        {
            _owned.Dispose();   // nothing half-made stays on the device
            throw;
        }
    }

    public int MaxPositions { get; }

    /// <summary>How the KV cache stores keys and values.</summary>
    public KvCacheFormat KvFormat => _cache.Format;

    /// <summary>KV-cache positions per page (one binding each); a context longer than this spans several pages.</summary>
    public int KvPagePositions => (int)_cache.PagePositions;

    /// <summary>Device bytes of the whole KV cache.</summary>
    public long KvCacheBytes => 2L * _config.Layers * MaxPositions * (long)_cache.BytesPerPosition;

    /// <summary>KV-cache bytes attention reads for a token that sees <paramref name="positions"/> positions: K and V of every layer.</summary>
    public long KvBytesRead(int positions) => 2L * _config.Layers * positions * (long)_cache.BytesPerPosition;

    /// <summary>Whether the device runs the shared expert while the host computes the routed ones (false on a CPU
    /// device, where both share the cores, and when no experts are on the host).</summary>
    public bool OverlapsHostExperts => _host?.Overlaps ?? false;

    /// <summary>Whether step N+1 is recorded while the device runs step N (the token it reads is on the device, so its
    /// recording does not wait for it): the host's recording time leaves the token's critical path.</summary>
    public bool OverlapsRecording { get; }

    /// <summary>Prompt tokens per prefill command buffer.</summary>
    public int PrefillChunk { get; }

    /// <summary>Tokens in the cache: the position of the next token.</summary>
    public int Position { get; private set; }

    /// <summary>The logits of the last step, [vocab] (valid after <see cref="Step"/>).</summary>
    public GpuBuffer Logits => _head.Logits;

    public void ReadLogits(Span<float> logits) => _head.Logits.Read(logits);

    /// <summary>What the last decode step or prefill chunk took: commands, submits, host time.</summary>
    public StepCounters LastStep { get; private set; }

    /// <summary>Runs <paramref name="token"/> at the next position; returns the next token (chosen on the GPU).</summary>
    public int Step(int token)
    {
        SessionArguments.Step(token, Position, MaxPositions, _config.VocabSize);
        long start = Stopwatch.GetTimestamp();
        Span<uint> io = stackalloc uint[1];
        io[0] = (uint)token;
        _one.Ids.Write<uint>(io);
        int current = _current;
        TimeSpan record = _preparedRecordTime;
        if (_preparedFor != Position)
        {
            _stepLayers[current] = Record(_steps[current], _one, 1, (uint)Position);
            record = Stopwatch.GetElapsedTime(start);
        }

        _cache.Remember(Position, token);
        Position++;
        _preparedFor = -1;
        LastStep = Execute(_steps[current], _stepLayers[current], start, record, recordNext: OverlapsRecording && Position < MaxPositions);
        _one.Ids.Read(io);
        return (int)io[0];
    }

    /// <summary>
    /// Runs the prompt through the multi-token kernels in chunks of <see cref="PrefillChunk"/> (one command buffer and
    /// submit each), filling the cache; returns the next token chosen from the last prompt position's logits.
    /// </summary>
    public int Prefill(IReadOnlyList<int> tokens)
    {
        SessionArguments.Prompt(tokens, Position, MaxPositions, _config.VocabSize);

        for (int start = 0; start < tokens.Count; start += PrefillChunk)
        {
            long begin = Stopwatch.GetTimestamp();
            int n = Math.Min(PrefillChunk, tokens.Count - start);
            for (int i = 0; i < n; i++)
            {
                _chunkIds[i] = (uint)tokens[start + i];
                _cache.Remember(Position + i, tokens[start + i]);
            }

            _chunk.Ids.Write<uint>(_chunkIds.AsSpan(0, n));
            Range layers = Record(_prefill, _chunk, (uint)n, (uint)Position);
            LastStep = Execute(_prefill, layers, begin, Stopwatch.GetElapsedTime(begin), recordNext: false, tokens: n);
            Position += n;
        }

        Span<uint> chosen = stackalloc uint[1];
        _one.Ids.Read(chosen);
        return (int)chosen[0];
    }

    /// <summary>How many of <paramref name="tokens"/>, from the first, the cache already holds at their positions.</summary>
    public int SharedPrefix(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return _cache.SharedPrefix(tokens, Position);
    }

    /// <summary>Empties the cache.</summary>
    public void Reset() => Rewind(0);

    /// <summary>Keeps the first <paramref name="position"/> positions of the cache and forgets the rest: the next token
    /// goes to <paramref name="position"/> (a conversation continues from what it shares with the last one).</summary>
    public void Rewind(int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(position, Position);
        Position = position;
        _preparedFor = -1;
    }

    /// <summary>How the next token is chosen from the logits (on the GPU); a seed makes sampling reproducible.</summary>
    public void SetSampling(Sampling sampling)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        _choice.Set(sampling);
        _preparedFor = -1;
    }

    /// <summary>Submits <paramref name="r"/>; computes the host layers' experts as the device reaches them; with
    /// <paramref name="recordNext"/>, records the decode step at <see cref="Position"/> into the other command buffer
    /// while the device runs this one; then waits.</summary>
    private StepCounters Execute(CommandRecorder r, Range layers, long start, TimeSpan record, bool recordNext, int tokens = 1)
    {
        long submitStart = Stopwatch.GetTimestamp();
        r.Submit();
        long submitted = Stopwatch.GetTimestamp();
        try
        {
            _host?.Serve(r, _model, tokens);
        }
        catch
        {
            // The device waits on hand-offs the host has not released: let it finish (Wait releases the rest in
            // order) before anything it reads can be freed. On a lost device that wait fails too; the first error stands.
            try
            {
                r.Wait();
            }
            catch (VulkanException)
            {
            }

            throw;
        }

        if (recordNext)
        {
            int next = 1 - _current;
            long recordStart = Stopwatch.GetTimestamp();
            _stepLayers[next] = Record(_steps[next], _one, 1, (uint)Position);
            _preparedRecordTime = Stopwatch.GetElapsedTime(recordStart);
            _preparedFor = Position;
            _current = next;
        }

        long waitStart = Stopwatch.GetTimestamp();
        r.Wait();
        return new StepCounters(r.DispatchCount, r.BarrierCount, r.StreamedBytes, record, Stopwatch.GetElapsedTime(submitStart, submitted),
            Stopwatch.GetElapsedTime(waitStart), Stopwatch.GetElapsedTime(start, submitted), layers)
        {
            HostExperts = _host is null ? default : new HostExpertCounters(r.HostPoints, _host.Compute, _host.WaitedForDevice, _host.WeightBytes),
        };
    }

    public void Dispose() => _owned.Dispose();
}
