using System.Numerics.Tensors;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// y = W x (or y += W x) for a batch of tokens on the <see cref="WorkerPool"/>: each thread a run of W's rows (cut at
/// 16 rows, so no two threads write one cache line of y), each row read once for every token of the batch (up to
/// <see cref="HostDot.MaxBatch"/> tokens per dot, the row staying in L1 across the groups). Quantized matrices take
/// the tokens as <see cref="Int8Activation"/>s, quantized here once per product (threads split the tokens); F32 and
/// F16 matrices take the floats. x is [tokens][W.Cols], y [tokens][W.Rows]. Holds its delegates and its arguments in
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
        Span<float> dots = stackalloc float[HostDot.MaxBatch];
        for (int r = start; r < end; r++)
        {
            for (int t0 = 0; t0 < _tokens; t0 += HostDot.MaxBatch)
            {
                int n = Math.Min(HostDot.MaxBatch, _tokens - t0);
                if (!w.IsQuantized)
                {
                    ReadOnlySpan<float> row = w.ValueRow(r);
                    for (int k = 0; k < n; k++)
                    {
                        dots[k] = TensorPrimitives.Dot(row, _x.AsSpan((t0 + k) * cols, cols));
                    }
                }
                else if (n == 1)
                {
                    dots[0] = w.Dot(r, _q[t0]);
                }
                else
                {
                    w.Dot(r, _q.AsSpan(t0, n), dots);
                }

                for (int k = 0; k < n; k++)
                {
                    ref float y = ref _y[(t0 + k) * rows + r];
                    y = _accumulate ? y + dots[k] : dots[k];
                }
            }
        }
    }
}
