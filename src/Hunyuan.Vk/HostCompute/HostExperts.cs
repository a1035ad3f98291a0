using System.Numerics.Tensors;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// Routed experts on the CPU for a batch of tokens (one in decode, a prefill chunk): for each token t and each of its
/// chosen experts e with router weight w, y_t += w * down_e(silu(gate_e x_t) * up_e x_t). The tokens are grouped by
/// expert, so each expert's weights are read once per batch however many tokens chose it. Each x is quantized to int8
/// blocks once; each (token, expert) activation once more before its down product. Three phases on the
/// <see cref="WorkerPool"/>: gate/up rows (each thread a run of every chosen expert's rows), the activations'
/// quantization, down rows (each thread a run of the output rows, so no two threads write one cache line).
/// The inputs and the output are arrays held here, sized once; <see cref="Compute"/> allocates nothing.
/// </summary>
internal sealed class HostExperts
{
    private readonly Int8Activation[] _x;       // per token
    private readonly Int8Activation[] _act;     // per entry
    private readonly float[] _swiglu;           // [entries][inter]
    private readonly int[] _count, _start;      // per expert: entries, first entry
    private readonly int[] _entryToken;         // per entry (grouped by expert, tokens in order)
    private readonly Int8Activation[] _entryX;  // per entry: its token's x, so an expert's entries are one span
    private readonly float[] _entryWeight;
    private readonly int[] _active;             // the experts with entries, ascending
    private readonly Action<int> _gateUpPhase, _quantizePhase, _downPhase;
    private WorkerPool? _pool;
    private HostExpertLayer? _layer;
    private int _tokens, _entries, _activeCount;
    private bool _floats;   // F32/F16 experts: float activations, no int8

    /// <param name="hidden">Model width: x and y per token.</param>
    /// <param name="intermediate">Expert width.</param>
    /// <param name="slotsPerToken">Route slots per token in <see cref="RouteIds"/>.</param>
    /// <param name="maxTokens">Most tokens of one batch.</param>
    /// <param name="maxExperts">Most experts of a layer.</param>
    public HostExperts(int hidden, int intermediate, int slotsPerToken, int maxTokens, int maxExperts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slotsPerToken, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTokens, 1);
        Hidden = hidden;
        Intermediate = intermediate;
        SlotsPerToken = slotsPerToken;
        MaxTokens = maxTokens;
        X = new float[maxTokens * hidden];
        Y = new float[maxTokens * hidden];
        RouteIds = new int[maxTokens * slotsPerToken];
        RouteWeights = new float[maxTokens * slotsPerToken];
        int maxEntries = maxTokens * slotsPerToken;
        _x = [.. Enumerable.Range(0, maxTokens).Select(_ => new Int8Activation(hidden))];
        _act = [.. Enumerable.Range(0, maxEntries).Select(_ => new Int8Activation(intermediate))];
        _swiglu = new float[maxEntries * intermediate];
        _count = new int[maxExperts];
        _start = new int[maxExperts];
        _active = new int[maxExperts];
        _entryToken = new int[maxEntries];
        _entryX = new Int8Activation[maxEntries];
        _entryWeight = new float[maxEntries];
        _gateUpPhase = GateUpPhase;
        _quantizePhase = QuantizePhase;
        _downPhase = DownPhase;
    }

    public int Hidden { get; }
    public int Intermediate { get; }
    public int SlotsPerToken { get; }
    public int MaxTokens { get; }

    /// <summary>In: [tokens][hidden], the normed hidden states.</summary>
    public float[] X { get; }

    /// <summary>In: [tokens][slots] expert ids; an id at or above the layer's experts (the shared expert) is skipped.</summary>
    public int[] RouteIds { get; }

    /// <summary>In: [tokens][slots] router weights.</summary>
    public float[] RouteWeights { get; }

    /// <summary>Out: [tokens][hidden], the weighted sum of each token's routed experts.</summary>
    public float[] Y { get; }

    /// <summary>Distinct experts the last batch read (each once).</summary>
    public int ExpertsRead => _activeCount;

    /// <summary>Runs the first <paramref name="tokens"/> tokens of <see cref="X"/> through <paramref name="layer"/>'s
    /// experts chosen in <see cref="RouteIds"/>, into <see cref="Y"/>, on <paramref name="pool"/>'s threads.</summary>
    public void Compute(WorkerPool pool, HostExpertLayer layer, int tokens)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(layer);
        if (tokens < 1 || tokens > MaxTokens || layer.Hidden != Hidden || layer.Intermediate != Intermediate || layer.Experts > _count.Length)
        {
            throw new ArgumentException($"{tokens} tokens (at most {MaxTokens}) through experts [{layer.Hidden}, {layer.Intermediate}] x {layer.Experts}; this runner is [{Hidden}, {Intermediate}] x {_count.Length}");
        }

        Group(layer.Experts, tokens);
        _floats = !layer.IsQuantized;
        for (int t = 0; t < tokens && !_floats; t++)
        {
            _x[t].Quantize(X.AsSpan(t * Hidden, Hidden));
        }

        (_pool, _layer, _tokens) = (pool, layer, tokens);
        try
        {
            pool.Run(_gateUpPhase);
            if (!_floats)
            {
                pool.Run(_quantizePhase);
            }

            pool.Run(_downPhase);
        }
        finally
        {
            (_pool, _layer) = (null, null);
        }
    }

    // The (token, slot) entries grouped by expert, tokens in order within each; the shared expert's slot is skipped.
    private void Group(int experts, int tokens)
    {
        Array.Clear(_count, 0, experts);
        for (int i = 0; i < tokens * SlotsPerToken; i++)
        {
            int id = RouteIds[i];
            if (id < 0)
            {
                throw new InvalidOperationException($"route of token {i / SlotsPerToken} slot {i % SlotsPerToken}: no expert {id}");
            }

            if (id < experts)
            {
                _count[id]++;
            }
        }

        int at = 0;
        _activeCount = 0;
        for (int e = 0; e < experts; e++)
        {
            _start[e] = at;
            at += _count[e];
            if (_count[e] > 0)
            {
                _active[_activeCount++] = e;
            }

            _count[e] = 0;   // refilled as the entries are placed
        }

        _entries = at;
        for (int i = 0; i < tokens * SlotsPerToken; i++)
        {
            int id = RouteIds[i];
            if (id < experts)
            {
                int entry = _start[id] + _count[id]++;
                _entryToken[entry] = i / SlotsPerToken;
                _entryX[entry] = _x[i / SlotsPerToken];
                _entryWeight[entry] = RouteWeights[i];
            }
        }
    }

    // swiglu[entry][i] = silu(gate_i x) * (up_i x) for rows i of this thread's share, expert by expert.
    private void GateUpPhase(int thread)
    {
        (int start, int end) = _pool!.Share(thread, Intermediate);
        Span<float> dots = stackalloc float[HostTiles.TileTokens * HostTiles.GroupRows];
        for (int a = 0; a < _activeCount; a++)
        {
            int e = _active[a], first = _start[e], last = first + _count[e];
            HostMatrix w = _layer!.GateUp(e);
            if (_floats)
            {
                for (int j = first; j < last; j++)
                {
                    ReadOnlySpan<float> x = X.AsSpan(_entryToken[j] * Hidden, Hidden);
                    for (int i = start; i < end; i++)
                    {
                        float gi = TensorPrimitives.Dot(w.ValueRow(2 * i), x), ui = TensorPrimitives.Dot(w.ValueRow(2 * i + 1), x);
                        _swiglu[j * Intermediate + i] = gi / (1f + MathF.Exp(-gi)) * ui;
                    }
                }

                continue;
            }

            // Groups of 8 interleaved rows: 4 gate/up pairs, for up to 4 of the expert's tokens at once.
            for (int g = 2 * start / HostTiles.GroupRows; g * HostTiles.GroupRows < 2 * end; g++)
            {
                int pairs = Math.Min(HostTiles.GroupRows, 2 * end - g * HostTiles.GroupRows) / 2, i0 = g * HostTiles.GroupRows / 2;
                for (int j0 = first; j0 < last; j0 += HostTiles.TileTokens)
                {
                    int n = Math.Min(HostTiles.TileTokens, last - j0);
                    w.Dot(g, _entryX.AsSpan(j0, n), dots);
                    for (int k = 0; k < n; k++)
                    {
                        for (int p = 0; p < pairs; p++)
                        {
                            float gi = dots[k * HostTiles.GroupRows + 2 * p], ui = dots[k * HostTiles.GroupRows + 2 * p + 1];
                            _swiglu[(j0 + k) * Intermediate + i0 + p] = gi / (1f + MathF.Exp(-gi)) * ui;
                        }
                    }
                }
            }
        }
    }

    private void QuantizePhase(int thread)
    {
        for (int j = thread; j < _entries; j += _pool!.Threads)
        {
            _act[j].Quantize(_swiglu.AsSpan(j * Intermediate, Intermediate));
        }
    }

    // y[token][r] = sum over the token's entries of weight * (down_e act)[r], for rows r of this thread's share.
    private void DownPhase(int thread)
    {
        (int start, int end) = _pool!.Share(thread, Hidden);
        for (int t = 0; t < _tokens; t++)
        {
            Array.Clear(Y, t * Hidden + start, end - start);
        }

        Span<float> dots = stackalloc float[HostTiles.TileTokens * HostTiles.GroupRows];
        for (int a = 0; a < _activeCount; a++)
        {
            int e = _active[a], first = _start[e], last = first + _count[e];
            HostMatrix w = _layer!.Down(e);
            if (_floats)
            {
                for (int j = first; j < last; j++)
                {
                    ReadOnlySpan<float> act = _swiglu.AsSpan(j * Intermediate, Intermediate);
                    int y0 = _entryToken[j] * Hidden;
                    for (int r = start; r < end; r++)
                    {
                        Y[y0 + r] += _entryWeight[j] * TensorPrimitives.Dot(w.ValueRow(r), act);
                    }
                }

                continue;
            }

            for (int g = start / HostTiles.GroupRows; g * HostTiles.GroupRows < end; g++)
            {
                int r0 = g * HostTiles.GroupRows, count = Math.Min(HostTiles.GroupRows, end - r0);
                for (int j0 = first; j0 < last; j0 += HostTiles.TileTokens)
                {
                    int n = Math.Min(HostTiles.TileTokens, last - j0);
                    w.Dot(g, _act.AsSpan(j0, n), dots);
                    for (int k = 0; k < n; k++)
                    {
                        Span<float> y = Y.AsSpan(_entryToken[j0 + k] * Hidden + r0, count);
                        TensorPrimitives.MultiplyAdd(dots.Slice(k * HostTiles.GroupRows, count), _entryWeight[j0 + k], y, y);
                    }
                }
            }
        }
    }
}
