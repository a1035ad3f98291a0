using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// One layer's routed experts in host memory (<see cref="HostMatrix"/>: the device's quants, f32 scales): per expert a
/// gate/up matrix with its rows interleaved (gate_0, up_0, gate_1, ...) as on the device, and a down matrix.
/// </summary>
internal sealed class HostExpertLayer
{
    private readonly HostMatrix[] _gateUp;   // per expert [2 * inter, hidden]
    private readonly HostMatrix[] _down;     // per expert [hidden, inter]

    public HostExpertLayer(IReadOnlyList<QuantizedMatrix> gateUp, IReadOnlyList<QuantizedMatrix> down)
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
    }

    public int Experts => _gateUp.Length;
    public int Hidden { get; }
    public int Intermediate { get; }
    public WeightFormat Format { get; }

    /// <summary>Whether the products take int8 activations (Q8, Q4, Q4Z) or floats (F32, F16).</summary>
    public bool IsQuantized => _gateUp[0].IsQuantized;

    /// <summary>Host bytes of the layer's weights.</summary>
    public long Bytes => _gateUp.Sum(m => m.Bytes) + _down.Sum(m => m.Bytes);

    /// <summary>Bytes one expert's products read.</summary>
    public long BytesPerExpert => _gateUp[0].Bytes + _down[0].Bytes;

    public HostMatrix GateUp(int expert) => _gateUp[expert];

    public HostMatrix Down(int expert) => _down[expert];
}
