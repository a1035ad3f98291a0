using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>What a decode step and a prefill chunk record: one recording for n tokens, the layer's ops one line each,
/// as the model reads (docs/model.md). One token takes the matrix-vector kernels and the routed MoE; several take the
/// multi-token products and the MoE grouped by expert, as ggml's mul_mat picks its kernel by the number of tokens.</summary>
public sealed partial class DecodeSession
{
    /// <summary>Records <paramref name="n"/> tokens, whose ids are in <paramref name="a"/>'s ids, at positions
    /// <paramref name="position"/> onwards: embedding, every layer, then the head on the last token, whose choice goes
    /// to decode's ids (the next step embeds it). Returns the layers' dispatches.</summary>
    private Range Record(CommandRecorder r, LayerActivations a, uint n, uint position)
    {
        r.Begin();
        r.Copy(a.Ids, 0, _head.History, position * 4UL, n * 4UL);   // the tokens join the history the repetition penalty reads
        _kernels.Embed(_model.Embedding.Format).Record(r, _model.Embedding, a.Ids.All, a.H.All, n);
        Capture(r, a, 0, n);
        int layersFrom = r.DispatchCount;
        bool normed = false;   // whether x already holds the next norm of h (a decode layer's combine wrote it)
        for (int l = 0; l < _config.Layers; l++)
        {
            normed = RecordLayer(r, l, a, n, position, normed);
            Capture(r, a, l + 1, n);
        }

        var layers = new Range(layersFrom, r.DispatchCount);
        if (a != _one)
        {
            // The last token's hidden state continues as decode's h: final norm, lm_head, token choice.
            ulong rowBytes = (ulong)_config.HiddenSize * 4;
            r.Copy(a.H, (n - 1) * rowBytes, _one.H, 0, rowBytes);
        }

        RecordHead(r, position + n, normed && a == _one);   // a one-token prefill chunk normed its own x
        r.End();
        return layers;
    }

    /// <summary>One layer for <paramref name="n"/> tokens at positions <paramref name="position"/> onwards; x holds
    /// its input norm already where <paramref name="normed"/>. Returns whether it left x holding the next norm of h
    /// (the next layer's input norm, or the final norm), which decode's combine writes in the same dispatch.</summary>
    private bool RecordLayer(CommandRecorder r, int l, LayerActivations a, uint n, uint position, bool normed)
    {
        DeviceModel.Layer w = _model.Layers[l];
        KvLayer kv = _cache.Layer(l);
        float eps = _config.RmsNormEps;
        if (!normed)
        {
            _kernels.Norm.Record(r, a.H.All, w.InputNorm.All, a.X.All, n, (uint)_config.HiddenSize, eps);                // x = rmsnorm(h)
        }

        Product(r, w.Qkv, a.X, a.Qkv, n);                                                                      // q, k, v
        _kernels.Rope.Record(r, _plan.Shape, a.Qkv.All, _model.InverseFrequencies.All, w.QueryNorm?.All, w.KeyNorm?.All, a.Q.All, kv, n, position, eps);   // RoPE, QK-norm; k, v to the cache
        _kernels.Attention.RecordBatch(r, a.Q.All, kv, a.AttentionPartials.All, a.Attention.All, n, position);       // causal attention over the cache
        Product(r, w.O, a.Attention, a.H, n, accumulate: true);                                                // h += o_proj(attention)
        _kernels.Norm.Record(r, a.H.All, w.PostNorm.All, a.X.All, n, (uint)_config.HiddenSize, eps);                      // x = rmsnorm(h)
        Product(r, w.Router, a.X, a.RouterLogits, n);                                                          // router logits
        bool routesInGateUp = n == 1 && !_model.OnHost(l) && w.GateUp is not null && _kernels.Tuning.RoutesInGateUp;   // decode on GPU rows: gate/up routes
        if (!routesInGateUp)
        {
            _kernels.Route.Record(r, a.RouterLogits.All, a.Routes.All, _gating, n);   // top-k
        }

        // Routed experts on the host: x and the routes go there; the device runs the shared expert meanwhile.
        int handOff = _model.OnHost(l) ? _host!.RecordHandOff(r, a.X, a.Routes, n) : -1;
        GpuBuffer nextNorm = l + 1 < _config.Layers ? _model.Layers[l + 1].InputNorm : _model.FinalNorm;
        bool normsNext = Experts(r, w, a, n, firstSlot: handOff >= 0 ? (uint)_config.TopK : 0, handOff < 0 ? nextNorm : null, routesInGateUp);   // h += shared (+ routed) experts
        if (handOff >= 0)
        {
            _host!.RecordReturn(r, _kernels.Add, handOff, a.H, n);                                                   // h += the host's routed experts
        }

        return normsNext;
    }

    /// <summary>y = W x (or y += W x) for <paramref name="n"/> tokens: the matrix-vector kernel for one, the
    /// multi-token product for more.</summary>
    private void Product(CommandRecorder r, DeviceMatrix w, GpuBuffer x, GpuBuffer y, uint n, bool accumulate = false)
    {
        if (n == 1)
        {
            _kernels.MatVec(w.Format, MatVecMode.Plain, w.Cols).Record(r, w, x.All, y.All, accumulate);
        }
        else
        {
            _kernels.MatMul(w.Format, MatMulMode.Plain).Record(r, w, x.All, y.All, n, accumulate);
        }
    }

    /// <summary>h += the experts of the routing slots from <paramref name="firstSlot"/> (the shared expert's slot comes
    /// last): one token runs each slot's expert and sums; several are grouped by expert, run, and scattered back.
    /// One token's sum also writes x = rmsnorm(h) * <paramref name="nextNorm"/> when it is given; returns whether it did.
    /// With <paramref name="routes"/> one token's gate/up product routes from the router logits first.</summary>
    private bool Experts(CommandRecorder r, DeviceModel.Layer w, LayerActivations a, uint n, uint firstSlot, GpuBuffer? nextNorm, bool routes)
    {
        if (w.GateUp is not DeviceMatrix gateUp || w.Down is not DeviceMatrix down)
        {
            return false;   // every expert of this layer is on the host
        }

        uint hidden = (uint)_config.HiddenSize, slots = (uint)_config.RouteSlots;
        if (n == 1)
        {
            if (routes)
            {
                _kernels.MatVec(gateUp.Format, MatVecMode.GateUp, gateUp.Cols, routes: true)
                    .RecordRoutedFromLogits(r, gateUp, a.X.All, a.ExpertActivations.All, a.Routes.All, a.RouterLogits.All, _gating);   // top-k, then each slot's gate/up
            }
            else
            {
                _kernels.MatVec(gateUp.Format, MatVecMode.GateUp, gateUp.Cols).RecordRouted(r, gateUp, a.X.All, a.ExpertActivations.All, a.Routes.All, slots);
            }

            _kernels.MatVec(down.Format, MatVecMode.Down, down.Cols).RecordRouted(r, down, a.ExpertActivations.All, a.ExpertPartials.All, a.Routes.All, slots);
            if (nextNorm is null)
            {
                _kernels.Combine.Record(r, a.ExpertPartials.All, a.Routes.All, a.H.All, hidden, slots, firstSlot);
                return false;
            }

            _kernels.CombineNorm.RecordNormed(r, a.ExpertPartials.All, a.Routes.All, a.H.All, hidden, slots, nextNorm.All, a.X.All, _config.RmsNormEps);   // and x = next norm(h)
            return true;
        }
        else
        {
            _kernels.Group.Record(r, a.Routes.All, a.Groups.All, a.EntryToken.All, a.EntryOf.All, n, slots, (uint)_config.StackedExperts);
            _kernels.MatMul(gateUp.Format, MatMulMode.GatherGateUp).RecordGrouped(r, gateUp, a.X.All, a.ExpertActivations.All, a.Groups.All, a.EntryToken.All, n);
            _kernels.MatMul(down.Format, MatMulMode.GatherDown).RecordGrouped(r, down, a.ExpertActivations.All, a.ExpertPartials.All, a.Groups.All, a.EntryToken.All, n);
            _kernels.Scatter.Record(r, a.ExpertPartials.All, a.Routes.All, a.EntryOf.All, a.H.All, hidden, n, slots, firstSlot);
        }

        return false;
    }

    /// <summary>Final norm (unless the last layer's combine wrote it: <paramref name="normed"/>), lm_head, then the
    /// token choice into decode's ids.</summary>
    private void RecordHead(CommandRecorder r, uint seen, bool normed)
    {
        if (!normed)
        {
            _kernels.Norm.Record(r, _one.H.All, _model.FinalNorm.All, _one.X.All, 1, (uint)_config.HiddenSize, _config.RmsNormEps);
        }

        Product(r, _model.LmHead, _one.X, _head.Logits, 1);
        _choice.Record(r, _kernels, _head, _one.Ids.All, (uint)_config.VocabSize, seen);
    }
}
