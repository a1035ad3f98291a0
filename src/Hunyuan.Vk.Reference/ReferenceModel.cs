using System.Globalization;
using System.Numerics;

namespace Hunyuan.Vk.Reference;

/// <summary>
/// The whole Hunyuan-A13B forward pass on the CPU in T (float, or double for the strictest oracle), exactly per spec
/// section 2: embedding (no scale) -> 32 pre-norm blocks [RMSNorm -> GQA attention with NeoX RoPE then per-head QK
/// RMSNorm -> residual; RMSNorm -> shared SwiGLU expert + softmax/top-k/renormalised routed experts -> residual] ->
/// final RMSNorm -> tied lm_head. Two paths give the same logits by different data flows: <see cref="Decode"/> with a KV
/// cache, one token at a time, and <see cref="ForwardFull"/>, which recomputes every position from scratch.
/// For tiny models in tests: plain loops, no speed tricks.
/// </summary>
public sealed class ReferenceModel<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ReferenceConfig _c;
    private readonly T[] _embed;       // [vocab, hidden]
    private readonly T[] _finalNorm;   // [hidden]
    private readonly T[] _lmHead;      // [vocab, hidden]; the embedding when tied
    private readonly Layer[] _layers;
    private readonly List<T[]>[] _keys;    // per layer, per cached position: [kvHeads * headDim], after RoPE and K-norm
    private readonly List<T[]>[] _values;  // per layer, per cached position: [kvHeads * headDim]

    private sealed record Expert(T[] Gate, T[] Up, T[] Down);   // [inter, hidden], [inter, hidden], [hidden, inter]

    private sealed record Layer(
        T[] InputNorm,       // [hidden]
        T[] Wq,              // [heads * headDim, hidden]
        T[] Wk,              // [kvHeads * headDim, hidden]
        T[] Wv,              // [kvHeads * headDim, hidden]
        T[] Wo,              // [hidden, heads * headDim]
        T[]? QueryNorm,      // [headDim]
        T[]? KeyNorm,        // [headDim]
        T[] PostNorm,        // [hidden]
        T[] Router,          // [experts, hidden]
        Expert? Shared,
        Expert[] Experts);

    /// <param name="config">Model numbers.</param>
    /// <param name="tensor">Returns the float values of a tensor by its Hugging Face name (linears with their <c>.weight</c> suffix
    /// dropped: <c>model.layers.0.self_attn.q_proj</c>), dequantized by the caller.</param>
    public ReferenceModel(ReferenceConfig config, Func<string, float[]> tensor)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(tensor);
        _c = config;
        T[] Load(string name) => tensor(name).Select(T.CreateChecked).ToArray();
        _embed = Load("model.embed_tokens.weight");
        _finalNorm = Load("model.norm.weight");
        _lmHead = config.TiedEmbeddings ? _embed : Load("lm_head.weight");
        _layers = new Layer[config.Layers];
        _keys = new List<T[]>[config.Layers];
        _values = new List<T[]>[config.Layers];
        for (int l = 0; l < config.Layers; l++)
        {
            string p = "model.layers." + l.ToString(CultureInfo.InvariantCulture);
            Expert ExpertAt(string prefix) => new(Load(prefix + ".gate_proj"), Load(prefix + ".up_proj"), Load(prefix + ".down_proj"));
            _layers[l] = new Layer(
                Load($"{p}.input_layernorm.weight"),
                Load($"{p}.self_attn.q_proj"),
                Load($"{p}.self_attn.k_proj"),
                Load($"{p}.self_attn.v_proj"),
                Load($"{p}.self_attn.o_proj"),
                config.UseQkNorm ? Load($"{p}.self_attn.query_layernorm.weight") : null,
                config.UseQkNorm ? Load($"{p}.self_attn.key_layernorm.weight") : null,
                Load($"{p}.post_attention_layernorm.weight"),
                Load($"{p}.mlp.gate.wg.weight"),
                config.SharedIntermediate > 0 ? ExpertAt($"{p}.mlp.shared_mlp") : null,
                Enumerable.Range(0, config.Experts).Select(e => ExpertAt($"{p}.mlp.experts.{e.ToString(CultureInfo.InvariantCulture)}")).ToArray());
            _keys[l] = [];
            _values[l] = [];
        }
    }

    /// <summary>Tokens in the KV cache (the next position).</summary>
    public int CachedTokens => _keys[0].Count;

    /// <summary>Empties the KV cache.</summary>
    public void Reset()
    {
        for (int l = 0; l < _c.Layers; l++)
        {
            _keys[l].Clear();
            _values[l].Clear();
        }
    }

    /// <summary>Runs one token at the next position, appending its K and V to the cache; returns its logits [vocab].</summary>
    /// <param name="token">Token id.</param>
    /// <param name="layerOutputs">If given, receives the hidden state after each layer (index = layer).</param>
    public T[] Decode(int token, Action<int, T[]>? layerOutputs = null)
    {
        int position = CachedTokens;
        T[] h = Embed(token);
        for (int l = 0; l < _c.Layers; l++)
        {
            Layer layer = _layers[l];
            T[] x = Norm(h, layer.InputNorm);
            (T[] q, T[] k, T[] v) = Project(layer, x, position);
            _keys[l].Add(k);
            _values[l].Add(v);
            Add(h, AttentionOutput(layer, q, _keys[l], _values[l]));
            Add(h, Moe(l, Norm(h, layer.PostNorm)));
            layerOutputs?.Invoke(l, (T[])h.Clone());
        }

        return Logits(h);
    }

    /// <summary>Decodes each token in turn; returns the logits of every position [tokens][vocab].</summary>
    public T[][] Prefill(IReadOnlyList<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        return tokens.Select(t => Decode(t)).ToArray();
    }

    /// <summary>
    /// Full recompute without the cache: every layer over every position at once, with causal attention. Returns the
    /// logits of every position [tokens][vocab]; leaves the cache as it was.
    /// </summary>
    public T[][] ForwardFull(IReadOnlyList<int> tokens, Action<int, T[][]>? layerOutputs = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int n = tokens.Count;
        T[][] h = tokens.Select(Embed).ToArray();
        for (int l = 0; l < _c.Layers; l++)
        {
            Layer layer = _layers[l];
            var qs = new T[n][];
            var ks = new List<T[]>(n);
            var vs = new List<T[]>(n);
            for (int p = 0; p < n; p++)
            {
                (T[] q, T[] k, T[] v) = Project(layer, Norm(h[p], layer.InputNorm), p);
                qs[p] = q;
                ks.Add(k);
                vs.Add(v);
            }

            for (int p = 0; p < n; p++)
            {
                // Causal: position p sees keys 0..p.
                Add(h[p], AttentionOutput(layer, qs[p], ks.GetRange(0, p + 1), vs.GetRange(0, p + 1)));
                Add(h[p], Moe(l, Norm(h[p], layer.PostNorm)));
            }

            layerOutputs?.Invoke(l, h.Select(x => (T[])x.Clone()).ToArray());
        }

        return h.Select(Logits).ToArray();
    }

    /// <summary>The router's choice for a (post-attention-normed) hidden vector of a layer: expert ids and weights.</summary>
    public (int[] Experts, T[] Weights) Route(int layer, ReadOnlySpan<T> x)
    {
        var logits = new T[_c.Experts];
        ModelOps.MatVec<T>(_layers[layer].Router, x, logits);
        return ModelOps.Route<T>(logits, _c.TopK, _c.NormTopKProb, T.CreateChecked(_c.RoutedScalingFactor));
    }

    private T[] Embed(int token)
    {
        if (token < 0 || token >= _c.Vocab)
        {
            throw new ArgumentOutOfRangeException(nameof(token), $"Token {token} is outside the vocabulary of {_c.Vocab}");
        }

        return _embed.AsSpan(token * _c.Hidden, _c.Hidden).ToArray();
    }

    private T[] Norm(T[] x, T[] weight)
    {
        var y = new T[x.Length];
        ModelOps.RmsNorm<T>(x, weight, y, T.CreateChecked(_c.RmsNormEps));
        return y;
    }

    /// <summary>q, k, v of one position: projections, RoPE on q and k, then per-head RMSNorm of q and k (after RoPE).</summary>
    private (T[] Q, T[] K, T[] V) Project(Layer layer, T[] x, int position)
    {
        var q = new T[_c.Heads * _c.HeadDim];
        var k = new T[_c.KvHeads * _c.HeadDim];
        var v = new T[_c.KvHeads * _c.HeadDim];
        ModelOps.MatVec<T>(layer.Wq, x, q);
        ModelOps.MatVec<T>(layer.Wk, x, k);
        ModelOps.MatVec<T>(layer.Wv, x, v);
        RopeThenNorm(q, _c.Heads, position, layer.QueryNorm);
        RopeThenNorm(k, _c.KvHeads, position, layer.KeyNorm);
        return (q, k, v);
    }

    private void RopeThenNorm(T[] heads, int count, int position, T[]? norm)
    {
        int d = _c.HeadDim;
        for (int h = 0; h < count; h++)
        {
            Span<T> head = heads.AsSpan(h * d, d);
            ModelOps.Rope<T>(head, position, _c.RopeBase);
            if (norm is not null)
            {
                T[] normed = new T[d];
                ModelOps.RmsNorm<T>(head, norm, normed, T.CreateChecked(_c.RmsNormEps));
                normed.CopyTo(head);
            }
        }
    }

    /// <summary>GQA attention of one query position over the given keys/values, then o_proj. Query head h reads KV head h / group.</summary>
    private T[] AttentionOutput(Layer layer, T[] q, List<T[]> keys, List<T[]> values)
    {
        int d = _c.HeadDim, group = _c.Heads / _c.KvHeads;
        T scale = T.One / T.Sqrt(T.CreateChecked(d));
        var heads = new T[_c.Heads * d];
        var scores = new T[keys.Count];
        for (int h = 0; h < _c.Heads; h++)
        {
            int kvHead = h / group;
            ReadOnlySpan<T> qh = q.AsSpan(h * d, d);
            for (int t = 0; t < keys.Count; t++)
            {
                ReadOnlySpan<T> kt = keys[t].AsSpan(kvHead * d, d);
                T dot = T.Zero;
                for (int i = 0; i < d; i++)
                {
                    dot += qh[i] * kt[i];
                }

                scores[t] = dot * scale;
            }

            ModelOps.Softmax<T>(scores);
            Span<T> output = heads.AsSpan(h * d, d);
            for (int t = 0; t < keys.Count; t++)
            {
                ReadOnlySpan<T> vt = values[t].AsSpan(kvHead * d, d);
                for (int i = 0; i < d; i++)
                {
                    output[i] += scores[t] * vt[i];
                }
            }
        }

        var o = new T[_c.Hidden];
        ModelOps.MatVec<T>(layer.Wo, heads, o);
        return o;
    }

    /// <summary>Shared expert (weight 1) plus the weighted top-k routed experts of layer <paramref name="l"/>.</summary>
    private T[] Moe(int l, T[] x)
    {
        Layer layer = _layers[l];
        var y = new T[_c.Hidden];
        var expertOut = new T[_c.Hidden];
        if (layer.Shared is Expert shared)
        {
            ModelOps.SwiGlu<T>(shared.Gate, shared.Up, shared.Down, x, y, _c.SharedIntermediate);
        }

        (int[] experts, T[] weights) = Route(l, x);
        for (int i = 0; i < experts.Length; i++)
        {
            Expert e = layer.Experts[experts[i]];
            ModelOps.SwiGlu<T>(e.Gate, e.Up, e.Down, x, expertOut, _c.ExpertIntermediate);
            for (int j = 0; j < y.Length; j++)
            {
                y[j] += weights[i] * expertOut[j];
            }
        }

        return y;
    }

    private T[] Logits(T[] h)
    {
        var logits = new T[_c.Vocab];
        ModelOps.MatVec<T>(_lmHead, Norm(h, _finalNorm), logits);
        return logits;
    }

    private static void Add(T[] h, T[] delta)
    {
        for (int i = 0; i < h.Length; i++)
        {
            h[i] += delta[i];
        }
    }
}
