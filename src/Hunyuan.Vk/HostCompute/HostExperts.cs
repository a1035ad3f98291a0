using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// One layer's routed experts in host memory, computed on the CPU for one token: for each chosen expert e with router
/// weight w_e, y += w_e * down_e(silu(gate_e x) * up_e x). Gate and up are one matrix per expert with their rows
/// interleaved (gate_0, up_0, gate_1, ...), as on the device. x is quantized to int8 blocks once; each expert's
/// activation once more before its down product. Three phases on the <see cref="WorkerPool"/>, each thread taking
/// whole cache lines of the outputs: gate/up pairs, the activations' quantization (by expert), down rows.
/// Buffers are made once; <see cref="Compute"/> allocates nothing.
/// </summary>
internal sealed class HostExperts
{
    private readonly HostMatrix[] _gateUp;   // per expert [2 * inter, hidden], rows interleaved
    private readonly HostMatrix[] _down;     // per expert [hidden, inter]
    private readonly Int8Activation _x;
    private readonly Int8Activation[] _act;       // per slot
    private readonly float[] _swiglu;             // [slots][inter]
    private readonly Action<int> _gateUpPhase, _quantizePhase, _downPhase;
    private WorkerPool? _pool;
    private int[] _ids = [];
    private float[] _weights = [];
    private int _slots;
    private float[] _y = [];

    public HostExperts(IReadOnlyList<QuantizedMatrix> gateUp, IReadOnlyList<QuantizedMatrix> down, int maxSlots)
    {
        ArgumentNullException.ThrowIfNull(gateUp);
        ArgumentNullException.ThrowIfNull(down);
        if (gateUp.Count == 0 || gateUp.Count != down.Count)
        {
            throw new ArgumentException($"{gateUp.Count} gate/up and {down.Count} down matrices");
        }

        _gateUp = [.. gateUp.Select(m => new HostMatrix(m))];
        _down = [.. down.Select(m => new HostMatrix(m))];
        Hidden = _gateUp[0].Cols;
        Intermediate = _gateUp[0].Rows / 2;
        Format = _gateUp[0].Format;
        for (int e = 0; e < _gateUp.Length; e++)
        {
            HostMatrix g = _gateUp[e], d = _down[e];
            if (g.Format != Format || d.Format != Format || g.Rows != 2 * Intermediate || g.Cols != Hidden || d.Rows != Hidden || d.Cols != Intermediate)
            {
                throw new ArgumentException($"expert {e}: gate/up {g.Format} [{g.Rows}, {g.Cols}], down {d.Format} [{d.Rows}, {d.Cols}]; expected {Format} [{2 * Intermediate}, {Hidden}] and [{Hidden}, {Intermediate}]");
            }
        }

        _x = new Int8Activation(Hidden);
        _act = [.. Enumerable.Range(0, maxSlots).Select(_ => new Int8Activation(Intermediate))];
        _swiglu = new float[maxSlots * Intermediate];
        _gateUpPhase = GateUpPhase;
        _quantizePhase = QuantizePhase;
        _downPhase = DownPhase;
    }

    public int Experts => _gateUp.Length;
    public int Hidden { get; }
    public int Intermediate { get; }
    public WeightFormat Format { get; }

    /// <summary>Bytes of weights one token reads for <paramref name="slots"/> experts (scales as f32).</summary>
    public long BytesPerToken(int slots) => slots * (_gateUp[0].Bytes + _down[0].Bytes);

    /// <summary>y += sum over slots s of weights[s] * expert ids[s](x), on <paramref name="pool"/>'s threads.</summary>
    public void Compute(WorkerPool pool, ReadOnlySpan<float> x, int[] ids, float[] weights, int slots, float[] y)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(y);
        if (slots > _act.Length || slots > ids.Length || slots > weights.Length || x.Length != Hidden || y.Length < Hidden)
        {
            throw new ArgumentException($"{slots} slots (at most {_act.Length}), x of {x.Length} (hidden {Hidden}), y of {y.Length}");
        }

        for (int s = 0; s < slots; s++)
        {
            if ((uint)ids[s] >= (uint)Experts)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), ids[s], $"slot {s}: no expert {ids[s]} of {Experts}");
            }
        }

        _x.Quantize(x);
        (_pool, _ids, _weights, _slots, _y) = (pool, ids, weights, slots, y);
        pool.Run(_gateUpPhase);
        pool.Run(_quantizePhase);
        pool.Run(_downPhase);
        _pool = null;
    }

    // Pairs p = slot * inter + i: swiglu[p] = silu(gate_i x) * (up_i x) of the slot's expert.
    private void GateUpPhase(int thread)
    {
        (int start, int end) = _pool!.Share(thread, _slots * Intermediate);
        for (int p = start; p < end; p++)
        {
            int slot = p / Intermediate, i = p % Intermediate;
            HostMatrix w = _gateUp[_ids[slot]];
            float g = w.Dot(2 * i, _x), u = w.Dot(2 * i + 1, _x);
            _swiglu[p] = g / (1f + MathF.Exp(-g)) * u;
        }
    }

    private void QuantizePhase(int thread)
    {
        for (int s = thread; s < _slots; s += _pool!.Threads)
        {
            _act[s].Quantize(_swiglu.AsSpan(s * Intermediate, Intermediate));
        }
    }

    private void DownPhase(int thread)
    {
        (int start, int end) = _pool!.Share(thread, Hidden);
        for (int r = start; r < end; r++)
        {
            float sum = 0;
            for (int s = 0; s < _slots; s++)
            {
                sum += _weights[s] * _down[_ids[s]].Dot(r, _act[s]);
            }

            _y[r] += sum;
        }
    }
}
