using System.Numerics.Tensors;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// Causal GQA attention on the <see cref="WorkerPool"/> over a <see cref="HostKvCache"/>: token t of a batch at
/// position p0 + t sees positions 0 .. p0 + t. The work is cut into items of (token, kv head, run of positions); each
/// item reads its positions in tiles of <see cref="Tile"/> (K and V of one head converted to f32 once per tile, for
/// all the query heads that share it) with an online softmax, and threads take items from a counter. A decode token
/// alone gives kv-heads items, too few for many threads over a long context: its positions are then split in runs of
/// at least <see cref="MinRun"/>, whose partial results (max, sum, weighted values) are merged at the end. Scratch is
/// sized once; a call allocates nothing.
/// </summary>
internal sealed class HostAttention
{
    public const int Tile = 64;
    public const int MinRun = 256;
    private readonly int _heads, _kvHeads, _d, _group, _maxRuns;
    private readonly float _scale;
    private readonly float[][] _k, _v, _scores;      // per thread: a tile of K, of V; scores [group][tile]
    private readonly float[] _partMax, _partSum, _partOut;   // per run of a decode token: [run][kv head][group](*d)
    private readonly Action<int> _phase;
    private WorkerPool? _pool;
    private HostKvCache? _cache;
    private float[] _q = [], _out = [];
    private int _layer, _tokens, _first, _runs, _next;

    public HostAttention(int heads, int kvHeads, int headDim, int threads)
    {
        (_heads, _kvHeads, _d, _group) = (heads, kvHeads, headDim, heads / kvHeads);
        _scale = 1f / MathF.Sqrt(headDim);
        _maxRuns = Math.Max(1, 2 * threads);
        _k = [.. Enumerable.Range(0, threads).Select(_ => new float[Tile * headDim])];
        _v = [.. Enumerable.Range(0, threads).Select(_ => new float[Tile * headDim])];
        _scores = [.. Enumerable.Range(0, threads).Select(_ => new float[_group * Tile])];
        _partMax = new float[_maxRuns * heads];
        _partSum = new float[_maxRuns * heads];
        _partOut = new float[_maxRuns * heads * headDim];
        _phase = Phase;
    }

    /// <summary>out[t] = attention of q[t] ([tokens][heads * d]) for the <paramref name="tokens"/> tokens at positions
    /// <paramref name="first"/> onwards, over <paramref name="layer"/>'s cache (which holds them already).</summary>
    public void Run(WorkerPool pool, HostKvCache cache, int layer, float[] q, float[] output, int tokens, int first)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(cache);
        if (pool.Threads > _k.Length || q.Length < tokens * _heads * _d || output.Length < tokens * _heads * _d)
        {
            throw new ArgumentException($"{tokens} tokens of {_heads} x {_d} on {pool.Threads} threads: sized for {_k.Length} threads");
        }

        int seen = first + tokens;
        // Runs of positions per item: one, unless a lone token's kv heads leave threads idle over a long context.
        _runs = tokens > 1 ? 1 : Math.Clamp(Math.Min(2 * pool.Threads / _kvHeads, seen / MinRun), 1, _maxRuns);
        (_pool, _cache, _layer, _q, _out, _tokens, _first, _next) = (pool, cache, layer, q, output, tokens, first, 0);
        try
        {
            pool.Run(_phase);
            if (_runs > 1)
            {
                Merge();
            }
        }
        finally
        {
            (_pool, _cache, _q, _out) = (null, null, [], []);
        }
    }

    private void Phase(int thread)
    {
        int items = _tokens * _kvHeads * _runs;
        for (int item = Interlocked.Increment(ref _next) - 1; item < items; item = Interlocked.Increment(ref _next) - 1)
        {
            // Later tokens see more positions: taking them first evens out the threads' ends.
            int t = _tokens - 1 - item / (_kvHeads * _runs), g = item / _runs % _kvHeads, run = item % _runs;
            int seen = _first + t + 1;
            int from = (int)((long)seen * run / _runs), to = (int)((long)seen * (run + 1) / _runs);
            Item(thread, t, g, run, from, to);
        }
    }

    // The query heads of kv head g for token t over positions [from, to): normalised into the output when the token
    // has one run, else the run's unnormalised partials.
    private void Item(int thread, int t, int g, int run, int from, int to)
    {
        int d = _d;
        Span<float> max = stackalloc float[_group], sum = stackalloc float[_group];
        max.Fill(float.NegativeInfinity);
        sum.Clear();
        Span<float> acc = _runs > 1 ? _partOut.AsSpan((run * _heads + g * _group) * d, _group * d) : _out.AsSpan((t * _heads + g * _group) * d, _group * d);
        acc.Clear();
        float[] k = _k[thread], v = _v[thread], scores = _scores[thread];
        for (int p0 = from; p0 < to; p0 += Tile)
        {
            int n = Math.Min(Tile, to - p0);
            _cache!.Read(_layer, values: false, g, p0, n, k);
            HostVectors.Scores(_q.AsSpan((t * _heads + g * _group) * d, _group * d), _group, k, n, d, _scale, scores, Tile);
            for (int j = 0; j < _group; j++)
            {
                // Online softmax: rescale what is summed so far to the new max, then add this tile.
                Span<float> s = scores.AsSpan(j * Tile, n);
                float m = MathF.Max(max[j], TensorPrimitives.Max(s));
                float correction = MathF.Exp(max[j] - m);
                max[j] = m;
                TensorPrimitives.Subtract(s, m, s);
                TensorPrimitives.Exp(s, s);
                sum[j] = sum[j] * correction + TensorPrimitives.Sum(s);
                if (correction != 1f)
                {
                    TensorPrimitives.Multiply(acc.Slice(j * d, d), correction, acc.Slice(j * d, d));
                }
            }

            _cache.Read(_layer, values: true, g, p0, n, v);
            HostVectors.WeightedSum(scores, Tile, _group, v, n, d, acc);
        }

        for (int j = 0; j < _group; j++)
        {
            if (_runs > 1)
            {
                _partMax[run * _heads + g * _group + j] = max[j];
                _partSum[run * _heads + g * _group + j] = sum[j];
            }
            else
            {
                TensorPrimitives.Divide(acc.Slice(j * d, d), sum[j], acc.Slice(j * d, d));
            }
        }
    }

    // A lone token's runs into its output: each run's weighted values rescaled to the overall max, summed, divided by
    // the rescaled sums.
    private void Merge()
    {
        int d = _d;
        for (int h = 0; h < _heads; h++)
        {
            float m = float.NegativeInfinity;
            for (int run = 0; run < _runs; run++)
            {
                m = MathF.Max(m, _partMax[run * _heads + h]);
            }

            Span<float> o = _out.AsSpan(h * d, d);
            o.Clear();
            float total = 0;
            for (int run = 0; run < _runs; run++)
            {
                float w = MathF.Exp(_partMax[run * _heads + h] - m);
                total += _partSum[run * _heads + h] * w;
                TensorPrimitives.MultiplyAdd(_partOut.AsSpan((run * _heads + h) * d, d), w, o, o);
            }

            TensorPrimitives.Divide(o, total, o);
        }
    }
}
