using System.Diagnostics;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// Token-by-token decoding of a <see cref="DeviceModel"/> with its KV cache: each step is one command buffer (all
/// layers, final norm, lm_head, argmax) and one submit; the next token id is written by the GPU into the token
/// buffer that the next step's embedding reads. Per layer: rms_norm, QKV matvec, rope_norm_kv, attention (split +
/// combine), o_proj matvec accumulating into h, rms_norm, router matvec, moe_route, routed gate/up (SwiGLU), routed
/// down, moe_combine into h.
/// </summary>
/// <remarks>The step is recorded again for every token (position and cache length are push constants), into two
/// command buffers in turn: step N+1 is recorded while the device runs step N, since the token it reads is already on
/// the device. Recording allocates nothing: descriptor sets are made on the first step and found again by their
/// ranges, barriers come from the recorder's hazard tracking, and the token goes in and out through a host-visible
/// buffer, so on a discrete GPU too a step is one submit and one fence wait.</remarks>
public sealed class DecodeSession : IDisposable
{
    private readonly GpuContext _context;
    private readonly DeviceModel _model;
    private readonly DeviceTuning _tuning;
    private readonly HunyuanConfig _c;
    private readonly AttentionShape _shape;
    private readonly OwnedResources _owned = new();
    private readonly Dictionary<(WeightFormat, MatVecMode, int), MatVecKernel> _matvec = [];
    private readonly Dictionary<WeightFormat, EmbedKernel> _embed = [];
    private readonly RmsNormKernel _norm;
    private readonly RopeNormKvKernel _rope;
    private readonly AttentionDecodeKernel _attention;
    private readonly MoeRouteKernel _route;
    private readonly MoeCombineKernel _combine;
    private readonly ArgmaxKernel _argmax;
    private readonly Sampler _sampler;
    private readonly RepetitionPenaltyKernel _penalty;
    private readonly GpuBuffer _history, _penaltyScratch, _choice;
    private Sampling _sampling = Sampling.Greedy;
    private Random _random = new(0);
    private readonly CommandRecorder[] _steps = new CommandRecorder[2];   // alternate: one runs while the next is recorded
    private int _current;
    private int _preparedFor = -1;        // the position the other recorder holds a finished recording for, or -1
    private TimeSpan _preparedRecordTime;
    private readonly GpuBuffer _h, _x, _qkv, _q, _attn, _partialAttn, _logitsRouter, _routing, _act, _partialMoe, _logits, _tokens;
    private readonly GpuBuffer[] _kCache, _vCache;
    private readonly int _slots;
    private readonly Dictionary<(WeightFormat, MatMulMode), MatMulKernel> _matmul = [];
    private readonly MoeGroupKernel _group;
    private readonly MoeScatterKernel _scatter;
    private readonly CommandRecorder _prefillRecorder;
    private readonly uint[] _chunkIds;
    private readonly int[] _cachedTokens;   // the token at each cached position, for SharedPrefix
    private Range _layerDispatches;
    private GpuBuffer? _capture;
    private readonly GpuBuffer _pTokens, _pH, _pX, _pQkv, _pQ, _pAttn, _pPartialAttn, _pRouter, _pRoutes, _pGroup, _pEntryToken, _pEntryOf, _pAct, _pPartialMoe;

    /// <param name="context">The device.</param>
    /// <param name="model">The weights on it.</param>
    /// <param name="maxPositions">KV-cache positions.</param>
    /// <param name="prefillChunk">Prompt tokens per prefill command buffer (the multi-token kernels' batch).</param>
    /// <param name="overlapRecording">Record the next step while the device runs this one (the default; on lavapipe too,
    /// where it measured no slower, so the path GPUs take is the one every test runs).</param>
    public DecodeSession(GpuContext context, DeviceModel model, int maxPositions, int prefillChunk = 64, bool overlapRecording = true)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(model);
        _context = context;
        _model = model;
        _c = model.Config;
        _tuning = DeviceTuning.For(context.Info);
        _shape = new AttentionShape(_c.Heads, _c.KvHeads, _c.HeadDim);
        OverlapsRecording = overlapRecording;
        _slots = _c.TopK + (_c.SharedExperts > 0 ? 1 : 0);
        MaxPositions = maxPositions;
        ulong range = context.Info.Limits.MaxStorageBufferRange;
        ulong cachePerPosition = (ulong)_shape.KvDim * 2;
        if ((ulong)maxPositions * cachePerPosition > range)
        {
            throw new ArgumentOutOfRangeException(nameof(maxPositions),
                $"A context of {maxPositions} positions needs {(ulong)maxPositions * cachePerPosition} bytes of KV cache per layer; {context.Info.Name} binds at most {range} bytes at once (its maxStorageBufferRange), so {range / cachePerPosition} positions at most");
        }

        try
        {
            _norm = Own(new RmsNormKernel(context, _tuning));
            _rope = Own(new RopeNormKvKernel(context, _tuning));
            _attention = Own(new AttentionDecodeKernel(context, _tuning, _shape));
            _route = Own(new MoeRouteKernel(context));
            _combine = Own(new MoeCombineKernel(context, _tuning));
            _argmax = Own(new ArgmaxKernel(context, _tuning));
            _sampler = Own(new Sampler(context, _tuning, (uint)_c.VocabSize));
            _penalty = Own(new RepetitionPenaltyKernel(context, _tuning));
            _steps[0] = Own(context.CreateRecorder());
            _steps[1] = Own(context.CreateRecorder());
            int hidden = _c.HiddenSize;
            _h = Buffer(hidden, "h");
            _x = Buffer(hidden, "x (normed)");
            _qkv = Buffer(_shape.QkvDim, "qkv");
            _q = Buffer(_shape.QueryDim, "q");
            _attn = Buffer(_shape.QueryDim, "attention out");
            _partialAttn = Buffer((int)_attention.PartialFloats((uint)maxPositions), "attention partials");
            _logitsRouter = Buffer(_c.Experts, "router logits");
            _routing = Buffer((int)(MoeRoute.Bytes / 4), "route");
            _act = Buffer(_slots * _c.ExpertIntermediate, "expert activations");
            _partialMoe = Buffer(_slots * hidden, "expert partials");
            _logits = Buffer(_c.VocabSize, "logits");
            _tokens = Own(context.CreateHostBuffer(4, "token"));
            _history = Buffer(maxPositions, "token history");
            _penaltyScratch = Buffer(maxPositions, "repetition penalty scratch");
            _choice = Buffer(_c.VocabSize, "logits after the repetition penalty");
            // The prefill attention partials grow with chunk x context; a shorter chunk keeps them in one binding.
            ulong partialsPerToken = _attention.PartialFloats((uint)maxPositions) * 4;
            PrefillChunk = (int)Math.Clamp(range / partialsPerToken, 1, (ulong)Math.Max(1, prefillChunk));
            int chunk = PrefillChunk;
            _group = Own(new MoeGroupKernel(context));
            _scatter = Own(new MoeScatterKernel(context, _tuning));
            _prefillRecorder = Own(context.CreateRecorder());
            _pTokens = Own(context.CreateHostBuffer((ulong)chunk * 4, "prefill tokens"));
            _chunkIds = new uint[chunk];
            _cachedTokens = new int[maxPositions];
            _pH = Buffer(chunk * hidden, "prefill h");
            _pX = Buffer(chunk * hidden, "prefill x");
            _pQkv = Buffer(chunk * _shape.QkvDim, "prefill qkv");
            _pQ = Buffer(chunk * _shape.QueryDim, "prefill q");
            _pAttn = Buffer(chunk * _shape.QueryDim, "prefill attention out");
            _pPartialAttn = Buffer((int)_attention.PartialFloats((uint)maxPositions, (uint)chunk), "prefill attention partials");
            _pRouter = Buffer(chunk * _c.Experts, "prefill router logits");
            _pRoutes = Buffer(chunk * (int)(MoeRoute.Bytes / 4), "prefill routes");
            _pGroup = Buffer((int)MoeGroupKernel.GroupUints, "prefill expert groups");
            _pEntryToken = Buffer(chunk * _slots, "prefill entry tokens");
            _pEntryOf = Buffer(chunk * _slots, "prefill entries of tokens");
            _pAct = Buffer(chunk * _slots * _c.ExpertIntermediate, "prefill expert activations");
            _pPartialMoe = Buffer(chunk * _slots * hidden, "prefill expert partials");
            _kCache = [.. Enumerable.Range(0, _c.Layers).Select(l => Own(context.CreateBuffer((ulong)maxPositions * (ulong)_shape.KvDim * 2, $"layer {l} k cache")))];
            _vCache = [.. Enumerable.Range(0, _c.Layers).Select(l => Own(context.CreateBuffer((ulong)maxPositions * (ulong)_shape.KvDim * 2, $"layer {l} v cache")))];
        }
        catch
        {
            _owned.Dispose();   // nothing half-made stays on the device
            throw;
        }
    }

    public int MaxPositions { get; }

    /// <summary>Whether step N+1 is recorded while the device runs step N (the token it reads is on the device, so its
    /// recording does not wait for it): the host's recording time leaves the token's critical path.</summary>
    public bool OverlapsRecording { get; }

    /// <summary>Prompt tokens per prefill command buffer.</summary>
    public int PrefillChunk { get; }

    /// <summary>Tokens in the cache: the position of the next token.</summary>
    public int Position { get; private set; }

    /// <summary>The logits of the last step, [vocab] (valid after <see cref="Step"/>).</summary>
    public GpuBuffer Logits => _logits;

    /// <summary>What the last decode step or prefill chunk took: commands, submits, host time.</summary>
    public StepCounters LastStep { get; private set; }

    /// <summary>Runs <paramref name="token"/> at the next position; returns the greedy next token (computed on the GPU).</summary>
    public int Step(int token)
    {
        if (Position >= MaxPositions)
        {
            throw new InvalidOperationException($"The context is full: {MaxPositions} positions");
        }

        if (token < 0 || token >= _c.VocabSize)
        {
            throw new ArgumentOutOfRangeException(nameof(token), $"Token {token} is outside the vocabulary of {_c.VocabSize}");
        }

        long start = Stopwatch.GetTimestamp();
        Span<uint> io = stackalloc uint[1];
        io[0] = (uint)token;
        _tokens.Write<uint>(io);
        CommandRecorder r = _steps[_current];
        TimeSpan record = _preparedRecordTime;
        if (_preparedFor != Position)
        {
            Record(r, (uint)Position);
            record = Stopwatch.GetElapsedTime(start);
        }

        _cachedTokens[Position] = token;
        Position++;
        _preparedFor = -1;
        LastStep = Execute(r, start, record, recordNext: OverlapsRecording && Position < MaxPositions);
        _tokens.Read(io);
        return (int)io[0];
    }

    /// <summary>
    /// Runs the prompt through the multi-token kernels in chunks of <see cref="PrefillChunk"/> (one command buffer and
    /// submit each), filling the cache; returns the next token chosen from the last prompt position's logits.
    /// </summary>
    public int Prefill(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count == 0 || Position + tokens.Count > MaxPositions)
        {
            throw new InvalidOperationException($"{tokens.Count} prompt tokens at position {Position} do not fit the context of {MaxPositions} positions");
        }

        foreach (int t in tokens)
        {
            if (t < 0 || t >= _c.VocabSize)
            {
                throw new ArgumentOutOfRangeException(nameof(tokens), $"Token {t} is outside the vocabulary of {_c.VocabSize}");
            }
        }

        for (int start = 0; start < tokens.Count; start += PrefillChunk)
        {
            long begin = Stopwatch.GetTimestamp();
            int n = Math.Min(PrefillChunk, tokens.Count - start);
            for (int i = 0; i < n; i++)
            {
                _chunkIds[i] = (uint)tokens[start + i];
            }

            _pTokens.Write<uint>(_chunkIds.AsSpan(0, n));
            RecordPrefill((uint)Position, (uint)n);
            LastStep = Execute(_prefillRecorder, begin, Stopwatch.GetElapsedTime(begin), recordNext: false);
            for (int i = 0; i < n; i++)
            {
                _cachedTokens[Position + i] = tokens[start + i];
            }

            Position += n;
        }

        Span<uint> chosen = stackalloc uint[1];
        _tokens.Read(chosen);
        return (int)chosen[0];
    }

    /// <summary>
    /// For parity checks: when set, each prefill chunk also copies its hidden states into <paramref name="buffer"/>,
    /// laid out [layers + 1][chunk tokens][hidden] f32: entering the first layer, then leaving each layer (null: stop).
    /// </summary>
    public void CaptureHiddenStates(GpuBuffer? buffer)
    {
        ulong needed = (ulong)(_c.Layers + 1) * (ulong)PrefillChunk * (ulong)_c.HiddenSize * 4;
        if (buffer is not null && buffer.Size < needed)
        {
            throw new ArgumentException($"Capturing hidden states needs {needed} bytes; '{buffer.Name}' has {buffer.Size}");
        }

        _capture = buffer;
    }

    /// <summary>Times every dispatch of the following decode steps on the GPU (null: stop).</summary>
    public void SetProfile(DispatchProfile? profile)
    {
        _steps[0].Profile = _steps[1].Profile = profile;
        _preparedFor = -1;
    }

    /// <summary>Submits <paramref name="r"/>; with <paramref name="recordNext"/>, records the decode step at
    /// <see cref="Position"/> into the other command buffer while the device runs this one; then waits.</summary>
    private StepCounters Execute(CommandRecorder r, long start, TimeSpan record, bool recordNext)
    {
        long submitStart = Stopwatch.GetTimestamp();
        r.Submit();
        long submitted = Stopwatch.GetTimestamp();
        if (recordNext)
        {
            Record(_steps[1 - _current], (uint)Position);
            _preparedRecordTime = Stopwatch.GetElapsedTime(submitted);
            _preparedFor = Position;
            _current = 1 - _current;
        }

        long waitStart = Stopwatch.GetTimestamp();
        r.Wait();
        return new StepCounters(r.DispatchCount, r.BarrierCount, r.WeightBytes, record, Stopwatch.GetElapsedTime(submitStart, submitted),
            Stopwatch.GetElapsedTime(waitStart), Stopwatch.GetElapsedTime(start, submitted), _layerDispatches);
    }

    /// <summary>How many of <paramref name="tokens"/>, from the first, the cache already holds at their positions.</summary>
    public int SharedPrefix(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int n = 0;
        while (n < Position && n < tokens.Count && _cachedTokens[n] == tokens[n])
        {
            n++;
        }

        return n;
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
        _sampling = sampling;
        _random = new Random(sampling.Seed);
        _preparedFor = -1;
    }

    private void Record(CommandRecorder r, uint position)
    {
        int hidden = _c.HiddenSize;
        r.Begin();
        r.Copy(_tokens, 0, _history, position * 4UL, 4);   // the token joins the history the repetition penalty reads
        Embed(_model.Embedding).Record(r, _model.Embedding, _tokens.All, _h.All, 1);
        int layersFrom = r.DispatchCount;
        for (int l = 0; l < _c.Layers; l++)
        {
            DeviceModel.Layer layer = _model.Layers[l];
            _norm.Record(r, _h.All, layer.InputNorm.All, _x.All, 1, (uint)hidden, _c.RmsNormEps);
            MatVec(layer.Qkv.Format, MatVecMode.Plain, hidden).Record(r, layer.Qkv, _x.All, _qkv.All);
            _rope.Record(r, _shape, _qkv.All, _model.InverseFrequencies.All, layer.QueryNorm?.All, layer.KeyNorm?.All, _q.All, _kCache[l].All, _vCache[l].All, 1, position, _c.RmsNormEps);
            _attention.Record(r, _q.All, _kCache[l].All, _vCache[l].All, _partialAttn.All, _attn.All, position + 1);
            MatVec(layer.O.Format, MatVecMode.Plain, _shape.QueryDim).Record(r, layer.O, _attn.All, _h.All, accumulate: true);
            _norm.Record(r, _h.All, layer.PostNorm.All, _x.All, 1, (uint)hidden, _c.RmsNormEps);
            MatVec(WeightFormat.F32, MatVecMode.Plain, hidden).Record(r, layer.Router, _x.All, _logitsRouter.All);
            _route.Record(r, _logitsRouter.All, _routing.All, _c.Experts, _c.TopK, _c.SharedExperts > 0, _c.NormTopKProb, (float)_c.RoutedScalingFactor);
            MatVec(layer.GateUp.Format, MatVecMode.GateUp, hidden).RecordRouted(r, layer.GateUp, _x.All, _act.All, _routing.All, (uint)_slots);
            MatVec(layer.Down.Format, MatVecMode.Down, _c.ExpertIntermediate).RecordRouted(r, layer.Down, _act.All, _partialMoe.All, _routing.All, (uint)_slots);
            _combine.Record(r, _partialMoe.All, _routing.All, _h.All, (uint)hidden, (uint)_slots);
        }

        _layerDispatches = new Range(layersFrom, r.DispatchCount);
        RecordHead(r, position + 1);
        r.End();
    }

    private void RecordPrefill(uint position0, uint n)
    {
        CommandRecorder r = _prefillRecorder;
        int hidden = _c.HiddenSize;
        uint slots = (uint)_slots;
        r.Begin();
        r.Copy(_pTokens, 0, _history, position0 * 4UL, n * 4UL);
        Embed(_model.Embedding).Record(r, _model.Embedding, _pTokens.All, _pH.All, n);
        Capture(r, 0, n);
        for (int l = 0; l < _c.Layers; l++)
        {
            DeviceModel.Layer layer = _model.Layers[l];
            _norm.Record(r, _pH.All, layer.InputNorm.All, _pX.All, n, (uint)hidden, _c.RmsNormEps);
            MatMul(layer.Qkv.Format, MatMulMode.Plain).Record(r, layer.Qkv, _pX.All, _pQkv.All, n);
            _rope.Record(r, _shape, _pQkv.All, _model.InverseFrequencies.All, layer.QueryNorm?.All, layer.KeyNorm?.All, _pQ.All, _kCache[l].All, _vCache[l].All, n, position0, _c.RmsNormEps);
            _attention.RecordBatch(r, _pQ.All, _kCache[l].All, _vCache[l].All, _pPartialAttn.All, _pAttn.All, n, position0);
            MatMul(layer.O.Format, MatMulMode.Plain).Record(r, layer.O, _pAttn.All, _pH.All, n, accumulate: true);
            _norm.Record(r, _pH.All, layer.PostNorm.All, _pX.All, n, (uint)hidden, _c.RmsNormEps);
            MatMul(WeightFormat.F32, MatMulMode.Plain).Record(r, layer.Router, _pX.All, _pRouter.All, n);
            _route.Record(r, _pRouter.All, _pRoutes.All, _c.Experts, _c.TopK, _c.SharedExperts > 0, _c.NormTopKProb, (float)_c.RoutedScalingFactor, n);
            _group.Record(r, _pRoutes.All, _pGroup.All, _pEntryToken.All, _pEntryOf.All, n, slots, (uint)layer.GateUp.Count);
            MatMul(layer.GateUp.Format, MatMulMode.GatherGateUp).RecordGrouped(r, layer.GateUp, _pX.All, _pAct.All, _pGroup.All, _pEntryToken.All, n);
            MatMul(layer.Down.Format, MatMulMode.GatherDown).RecordGrouped(r, layer.Down, _pAct.All, _pPartialMoe.All, _pGroup.All, _pEntryToken.All, n);
            _scatter.Record(r, _pPartialMoe.All, _pRoutes.All, _pEntryOf.All, _pH.All, (uint)hidden, n, slots);
            Capture(r, l + 1, n);
        }

        // The last token's hidden state continues as decode's h: final norm, lm_head, token choice.
        r.Copy(_pH, (ulong)(n - 1) * (ulong)hidden * 4, _h, 0, (ulong)hidden * 4);
        RecordHead(r, position0 + n);
        r.End();
    }

    private void Capture(CommandRecorder r, int index, uint n)
    {
        if (_capture is GpuBuffer capture)
        {
            ulong bytes = n * (ulong)_c.HiddenSize * 4;
            r.Copy(_pH, 0, capture, (ulong)index * bytes, bytes);
        }
    }

    /// <summary>Final norm, lm_head, then the token choice: on the logits, or on a penalised copy (the logits stay raw).</summary>
    private void RecordHead(CommandRecorder r, uint seen)
    {
        int hidden = _c.HiddenSize;
        _norm.Record(r, _h.All, _model.FinalNorm.All, _x.All, 1, (uint)hidden, _c.RmsNormEps);
        MatVec(_model.LmHead.Format, MatVecMode.Plain, hidden).Record(r, _model.LmHead, _x.All, _logits.All);
        GpuBuffer choice = _logits;
        if (_sampling.RepetitionPenalty != 1f)
        {
            r.Copy(_logits, 0, _choice, 0, _logits.Size);
            _penalty.Record(r, _choice.All, _history.All, _penaltyScratch.All, seen, _sampling.RepetitionPenalty);
            choice = _choice;
        }

        if (_sampling.IsGreedy)
        {
            _argmax.Record(r, choice.All, _tokens.All, (uint)_c.VocabSize);
        }
        else
        {
            int topK = Math.Clamp(_sampling.TopK <= 0 ? Sampler.MaxK : _sampling.TopK, 1, Sampler.MaxK);
            _sampler.Record(r, choice.All, _tokens.All, (uint)_c.VocabSize, topK, _sampling.Temperature, _sampling.TopP, _random.NextSingle());
        }
    }

    private MatMulKernel MatMul(WeightFormat format, MatMulMode mode)
    {
        if (!_matmul.TryGetValue((format, mode), out MatMulKernel? k))
        {
            _matmul[(format, mode)] = k = Own(new MatMulKernel(_context, _tuning, format, mode));
        }

        return k;
    }

    private MatVecKernel MatVec(WeightFormat format, MatVecMode mode, int cols)
    {
        if (!_matvec.TryGetValue((format, mode, cols), out MatVecKernel? k))
        {
            _matvec[(format, mode, cols)] = k = Own(new MatVecKernel(_context, _tuning, format, (uint)cols, mode));
        }

        return k;
    }

    private EmbedKernel Embed(DeviceMatrix embedding)
    {
        if (!_embed.TryGetValue(embedding.Format, out EmbedKernel? k))
        {
            _embed[embedding.Format] = k = Own(new EmbedKernel(_context, _tuning, embedding.Format));
        }

        return k;
    }

    private GpuBuffer Buffer(int floats, string name) => Own(_context.CreateBuffer((ulong)Math.Max(floats, 1) * 4, name));

    private T Own<T>(T item)
        where T : IDisposable => _owned.Add(item);

    public void Dispose() => _owned.Dispose();
}

/// <summary>What one command buffer of a session took: dispatches and barriers recorded, weight bytes read, host time
/// spent recording it (whenever that was), submitting it and waiting for the device, the host time on the token's
/// critical path (from the call to the submit: the recording drops out of it when it was done while the device ran
/// the previous step), and which dispatches ran the layers (the rest are the embedding and the head).</summary>
public readonly record struct StepCounters(int Dispatches, int Barriers, ulong WeightBytes, TimeSpan Record, TimeSpan Submit, TimeSpan Wait,
    TimeSpan Exposed, Range LayerDispatches)
{
    /// <summary>Host time the step costs besides the device's own work: recording plus submitting.</summary>
    public TimeSpan HostOverhead => Record + Submit;
}
