using System.Numerics.Tensors;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// y = W x (or y += W x) for a batch of tokens on the <see cref="WorkerPool"/>: each thread a run of W's rows (cut at
/// 16 rows, so no two threads write one cache line of y). Quantized matrices take the tokens as
/// <see cref="Int8Activation"/>s, quantized here once per product (threads split the tokens), through the tiles: each
/// group of 16 rows decoded once for every <see cref="HostTiles.TileTokens"/> tokens, the group staying in L1 across the
/// batch. F32 and F16 matrices take the floats, row by row. x is [tokens][W.Cols], y [tokens][W.Rows]. Holds its delegates and its arguments in
/// fields, so a product allocates nothing.
/// </summary>
internal sealed class HostProduct
{
    private readonly Int8Activation[] _q;
    private readonly Action<int> _quantizePhase, _rowPhase;
    private WorkerPool? _pool;
    private HostMatrix? _w;
    private float[] _x = [], _y = [];
    private int _tokens;
    private bool _accumulate;

    /// <param name="maxCols">Widest input of any matrix this runs.</param>
    /// <param name="maxTokens">Most tokens of one batch.</param>
    public HostProduct(int maxCols, int maxTokens)
    {
        int capacity = (maxCols + Int8Activation.Block - 1) / Int8Activation.Block * Int8Activation.Block;
        _q = [.. Enumerable.Range(0, maxTokens).Select(_ => new Int8Activation(capacity))];
        _quantizePhase = QuantizePhase;
        _rowPhase = RowPhase;
    }

    public int MaxTokens => _q.Length;

    /// <summary>y[t] (+)= W x[t] for the first <paramref name="tokens"/> tokens.</summary>
    public void Run(WorkerPool pool, HostMatrix w, float[] x, float[] y, int tokens, bool accumulate = false)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(w);
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(y);
        if (tokens < 1 || tokens > MaxTokens || x.Length < tokens * w.Cols || y.Length < tokens * w.Rows || (w.IsQuantized && w.Cols > _q[0].Q.Length))
        {
            throw new ArgumentException($"{tokens} tokens (at most {MaxTokens}) through [{w.Rows}, {w.Cols}]: x holds {x.Length}, y {y.Length}");
        }

        (_pool, _w, _x, _y, _tokens, _accumulate) = (pool, w, x, y, tokens, accumulate);
        try
        {
            if (w.IsQuantized)
            {
                if (tokens == 1)
                {
                    _q[0].Quantize(x.AsSpan(0, w.Cols));
                }
                else
                {
                    pool.Run(_quantizePhase);
                }
            }

            pool.Run(_rowPhase);
        }
        finally
        {
            (_pool, _w, _x, _y) = (null, null, [], []);
        }
    }

    private void QuantizePhase(int thread)
    {
        int cols = _w!.Cols;
        for (int t = thread; t < _tokens; t += _pool!.Threads)
        {
            _q[t].Quantize(_x.AsSpan(t * cols, cols));
        }
    }

    private void RowPhase(int thread)
    {
        HostMatrix w = _w!;
        (int start, int end) = _pool!.Share(thread, w.Rows);
        int rows = w.Rows, cols = w.Cols;
        if (!w.IsQuantized)
        {
            for (int r = start; r < end; r++)
            {
                for (int t = 0; t < _tokens; t++)
                {
                    ref float y = ref _y[t * rows + r];
                    float dot = TensorPrimitives.Dot(w.ValueRow(r), _x.AsSpan(t * cols, cols));
                    y = _accumulate ? y + dot : dot;
                }
            }

            return;
        }

        Span<float> dots = stackalloc float[HostTiles.TileTokens * HostTiles.GroupRows];
        for (int g = start / HostTiles.GroupRows; g * HostTiles.GroupRows < end; g++)
        {
            int first = g * HostTiles.GroupRows, count = Math.Min(HostTiles.GroupRows, end - first);
            for (int t0 = 0; t0 < _tokens; t0 += HostTiles.TileTokens)
            {
                int n = Math.Min(HostTiles.TileTokens, _tokens - t0);
                w.Dot(g, _q.AsSpan(t0, n), dots);
                for (int k = 0; k < n; k++)
                {
                    Span<float> y = _y.AsSpan((t0 + k) * rows + first, count);
                    ReadOnlySpan<float> d = dots.Slice(k * HostTiles.GroupRows, count);
                    if (_accumulate)
                    {
                        TensorPrimitives.Add(y, d, y);
                    }
                    else
                    {
                        d.CopyTo(y);
                    }
                }
            }
        }
    }
}
