using System.Diagnostics;
using System.Numerics.Tensors;
using Hunyuan.Vk.HostCompute;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Execution;

/// <summary>The ops of the host executor's layer, for its per-op times.</summary>
public enum HostOp
{
    Embed,
    Norm,
    Qkv,
    Rope,
    Attention,
    O,
    Router,
    Route,
    Experts,
    Head,
    Choice,
}

/// <summary>
/// The host executor: the model's layer run on the CPU's cores, op for op as the device's recording runs it
/// (docs/architecture.md, "The step"), for n tokens of one sequence: one token in decode, a chunk of the prompt in
/// prefill. Products run every row once for the chunk's tokens (int8 activations against the quantized rows), attention
/// is causal and tiled, the experts are grouped by expert (<see cref="HostExperts"/>, the shared expert one more
/// stacked expert), and the head (final norm, lm_head, token choice) runs on the last token only. One persistent
/// <see cref="WorkerPool"/>; every buffer sized once, so a step allocates nothing.
/// </summary>
public sealed class HostSession : IModelSession
{
    private readonly HostModel _model;
    private readonly HunyuanConfig _c;
    private readonly WorkerPool _pool;
    private readonly HostKvCache _cache;
    private readonly HostProduct _product;
    private readonly HostAttention _attention;
    private readonly HostExperts _experts;
    private readonly HostSampler _sampler;
    private readonly float[] _h, _qkv, _q, _attn, _routerLogits, _headX, _logits, _probabilities, _cos, _sin;
    private readonly int[] _history;
    private readonly long[] _opTicks = new long[Enum.GetValues<HostOp>().Length];
    private Sampling _sampling = Sampling.Greedy;
    private Random _random = new(0);
    private long _clock;

    /// <param name="model">The weights.</param>
    /// <param name="maxPositions">KV-cache positions.</param>
    /// <param name="prefillChunk">Prompt tokens per forward pass.</param>
    /// <param name="kvFormat">How the KV cache stores keys and values.</param>
    /// <param name="threads">Threads (0: the machine's processors).</param>
    public HostSession(HostModel model, int maxPositions, int prefillChunk = 64, KvCacheFormat kvFormat = KvCacheFormat.F16, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxPositions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(prefillChunk, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        _model = model;
        _c = model.Config;
        MaxPositions = maxPositions;
        PrefillChunk = prefillChunk;
        int n = prefillChunk, hidden = _c.HiddenSize;
        _cache = new HostKvCache(_c.Layers, _c.KvHeads, _c.HeadDim, maxPositions, kvFormat);
        _pool = new WorkerPool(threads);
        _product = new HostProduct(Math.Max(hidden, _c.QueryDim), n);
        _attention = new HostAttention(_c.Heads, _c.KvHeads, _c.HeadDim, _pool.Threads);
        _experts = new HostExperts(hidden, _c.ExpertIntermediate, _c.RouteSlots, n, _c.StackedExperts);
        _sampler = new HostSampler(_c.VocabSize);
        _h = new float[n * hidden];
        _qkv = new float[n * (_c.QueryDim + 2 * _c.KvDim)];
        _q = new float[n * _c.QueryDim];
        _attn = new float[n * _c.QueryDim];
        _routerLogits = new float[n * _c.Experts];
        _headX = new float[hidden];
        _logits = new float[_c.VocabSize];
        _probabilities = new float[_c.Experts];
        _cos = new float[_c.HeadDim / 2];
        _sin = new float[_c.HeadDim / 2];
        _history = new int[maxPositions];
    }

    public int MaxPositions { get; }

    /// <summary>Prompt tokens per forward pass.</summary>
    public int PrefillChunk { get; }

    public int Position { get; private set; }

    /// <summary>Threads the ops run on.</summary>
    public int Threads => _pool.Threads;

    public KvCacheFormat KvFormat => _cache.Format;

    /// <summary>Host bytes of the whole KV cache.</summary>
    public long KvCacheBytes => _cache.Bytes;

    /// <summary>KV-cache bytes attention reads for a token that sees <paramref name="positions"/> positions.</summary>
    public long KvBytesRead(int positions) => 2L * _c.Layers * positions * _cache.Format.BytesPerPosition(_c.KvHeads, _c.HeadDim);

    /// <summary>Distinct routed and shared experts the last layer's products read (each once per forward pass).</summary>
    public int ExpertsRead => _experts.ExpertsRead;

    /// <summary>Managed bytes allocated so far by the threads that run the steps (tests: a step allocates none).</summary>
    internal long AllocatedBytes => _pool.AllocatedBytes;

    /// <summary>Time spent in each op since the last <see cref="ResetOpTimes"/>.</summary>
    public TimeSpan OpTime(HostOp op) => Stopwatch.GetElapsedTime(0, _opTicks[(int)op]);

    public void ResetOpTimes() => Array.Clear(_opTicks);

    /// <summary>When set (tests, diagnostics): each forward pass writes its tokens' hidden states entering layer 0 and
    /// leaving each layer here, [layers + 1][tokens][hidden].</summary>
    public float[]? HiddenStates { get; set; }

    public int Step(int token)
    {
        SessionArguments.Step(token, Position, MaxPositions, _c.VocabSize);
        _history[Position] = token;
        Forward(1, logits: true);
        Position++;
        return Choose();
    }

    public int Prefill(IReadOnlyList<int> tokens)
    {
        SessionArguments.Prompt(tokens, Position, MaxPositions, _c.VocabSize);

        for (int start = 0; start < tokens.Count; start += PrefillChunk)
        {
            int n = Math.Min(PrefillChunk, tokens.Count - start);
            for (int i = 0; i < n; i++)
            {
                _history[Position + i] = tokens[start + i];
            }

            Forward(n, logits: start + n == tokens.Count);
            Position += n;
        }

        return Choose();
    }

    public int SharedPrefix(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int n = 0;
        while (n < Math.Min(tokens.Count, Position) && _history[n] == tokens[n])
        {
            n++;
        }

        return n;
    }

    public void Reset() => Rewind(0);

    public void Rewind(int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(position, Position);
        Position = position;
    }

    public void SetSampling(Sampling sampling)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        _sampling = sampling;
        _random = new Random(sampling.Seed);
    }

    public void ReadLogits(Span<float> logits) => _logits.CopyTo(logits);

    /// <summary>Benchmarks at a depth: the first <paramref name="positions"/> positions of every layer's cache hold one
    /// constant K and V (attention reads them as it would real ones), the history token 0; the next token goes after.</summary>
    public void FillForBenchmark(int positions)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(positions);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(positions, MaxPositions - 1);
        var k = new float[_c.KvDim];
        k.AsSpan().Fill(0.01f);
        for (int l = 0; l < _c.Layers; l++)
        {
            for (int p = 0; p < positions; p++)
            {
                _cache.Append(l, p, k, k);
            }
        }

        Array.Clear(_history, 0, positions);
        Position = positions;
    }

    /// <summary>The tokens in the history at <see cref="Position"/> .. + <paramref name="n"/> - 1 through every layer;
    /// with <paramref name="logits"/>, the last one's logits into <see cref="ReadLogits"/>. Past the last layer's KV
    /// append only the last token's row still matters (its logits; the later tokens read the others' K and V, never
    /// their hidden states), so the last layer's attention, O product and experts run for that token alone, and for
    /// none where no logits are wanted (a prompt's chunks before its last); hidden-state capture keeps every row.</summary>
    private void Forward(int n, bool logits)
    {
        int hidden = _c.HiddenSize, p0 = Position;
        float[] x = _experts.X;   // the normed hidden states: the products' input, then the experts'
        Start();
        for (int t = 0; t < n; t++)
        {
            _model.Embedding.DequantizeRow(_history[p0 + t], _h.AsSpan(t * hidden, hidden));
        }

        Lap(HostOp.Embed);
        Capture(0, n);
        for (int l = 0; l < _c.Layers; l++)
        {
            HostModel.Layer w = _model.Layers[l];
            Norm(w.InputNorm, x, n);                                               // x = rmsnorm(h)
            _product.Run(_pool, w.Qkv, x, _qkv, n);                                // q, k, v
            Lap(HostOp.Qkv);
            RopeAndAppend(w, l, n, p0);                                            // RoPE, QK-norm; k, v to the cache
            if (l == _c.Layers - 1 && HiddenStates is null)
            {
                if (!logits)
                {
                    return;
                }

                Narrow(n);
                (p0, n) = (p0 + n - 1, 1);
            }

            _attention.Run(_pool, _cache, l, _q, _attn, n, p0);                    // causal attention over the cache
            Lap(HostOp.Attention);
            _product.Run(_pool, w.O, _attn, _h, n, accumulate: true);             // h += o_proj(attention)
            Lap(HostOp.O);
            Norm(w.PostNorm, x, n);                                                // x = rmsnorm(h)
            _product.Run(_pool, w.Router, x, _routerLogits, n);                    // router logits
            Lap(HostOp.Router);
            for (int t = 0; t < n; t++)                                            // top-k, and the shared expert's slot
            {
                int slots = _c.RouteSlots;
                HostOps.Route(_routerLogits.AsSpan(t * _c.Experts, _c.Experts), _c.TopK, _c.NormTopKProb, (float)_c.RoutedScalingFactor, _c.SharedExperts > 0,
                    _experts.RouteIds.AsSpan(t * slots, slots), _experts.RouteWeights.AsSpan(t * slots, slots), _probabilities);
            }

            Lap(HostOp.Route);
            _experts.Compute(_pool, w.Experts, n);                                 // h += shared and routed experts
            TensorPrimitives.Add(_h.AsSpan(0, n * hidden), _experts.Y.AsSpan(0, n * hidden), _h.AsSpan(0, n * hidden));
            Lap(HostOp.Experts);
            Capture(l + 1, n);
        }

        if (logits)
        {
            HostOps.RmsNorm(_h.AsSpan((n - 1) * hidden, hidden), _model.FinalNorm, _headX, _c.RmsNormEps);   // the last token: final norm, lm_head
            _product.Run(_pool, _model.LmHead, _headX, _logits, 1);
            Lap(HostOp.Head);
        }
    }

    /// <summary>The last of <paramref name="n"/> tokens' query and hidden state into row 0 (a lone token is there).</summary>
    private void Narrow(int n)
    {
        if (n == 1)
        {
            return;
        }

        int hidden = _c.HiddenSize, qDim = _c.QueryDim;
        _q.AsSpan((n - 1) * qDim, qDim).CopyTo(_q);
        _h.AsSpan((n - 1) * hidden, hidden).CopyTo(_h);
    }

    private void Capture(int at, int n)
    {
        int size = n * _c.HiddenSize;
        if (HiddenStates is float[] states && states.Length >= (at + 1) * size)
        {
            _h.AsSpan(0, size).CopyTo(states.AsSpan(at * size));
        }
    }

    private void Norm(float[] weight, float[] x, int n)
    {
        int hidden = _c.HiddenSize;
        for (int t = 0; t < n; t++)
        {
            HostOps.RmsNorm(_h.AsSpan(t * hidden, hidden), weight, x.AsSpan(t * hidden, hidden), _c.RmsNormEps);
        }

        Lap(HostOp.Norm);
    }

    private void RopeAndAppend(HostModel.Layer w, int l, int n, int p0)
    {
        int qDim = _c.QueryDim, kvDim = _c.KvDim, row = qDim + 2 * kvDim;
        for (int t = 0; t < n; t++)
        {
            Span<float> qkv = _qkv.AsSpan(t * row, row);
            HostOps.RopeThenNorm(qkv[..qDim], _c.Heads, p0 + t, _model.InverseFrequencies, w.QueryNorm, _c.RmsNormEps, _cos, _sin);
            HostOps.RopeThenNorm(qkv.Slice(qDim, kvDim), _c.KvHeads, p0 + t, _model.InverseFrequencies, w.KeyNorm, _c.RmsNormEps, _cos, _sin);
            qkv[..qDim].CopyTo(_q.AsSpan(t * qDim, qDim));
            _cache.Append(l, p0 + t, qkv.Slice(qDim, kvDim), qkv.Slice(qDim + kvDim, kvDim));
        }

        Lap(HostOp.Rope);
    }

    /// <summary>The next token from the logits: the repetition penalty over the history, then greedy or sampled.</summary>
    private int Choose()
    {
        Start();
        ReadOnlySpan<float> logits = _sampler.Penalise(_logits, _history.AsSpan(0, Position), _sampling.RepetitionPenalty);
        int token = _sampling.IsGreedy
            ? HostSampler.Greedy(logits)
            : _sampler.Sample(logits, _sampling.TopK <= 0 ? HostSampler.MaxK : _sampling.TopK, _sampling.Temperature, _sampling.TopP, _random.NextSingle());
        Lap(HostOp.Choice);
        return token;
    }

    private void Start() => _clock = Stopwatch.GetTimestamp();

    private void Lap(HostOp op)
    {
        long now = Stopwatch.GetTimestamp();
        _opTicks[(int)op] += now - _clock;
        _clock = now;
    }

    public void Dispose() => _pool.Dispose();
}
