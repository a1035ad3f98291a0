using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>What a decode step and a prefill chunk record: one line per op of the layer, as the model reads.</summary>
public sealed partial class DecodeSession
{
    /// <summary>Records the decode step of the token in the token buffer at <paramref name="position"/>; returns the
    /// layers' dispatches.</summary>
    private Range RecordStep(CommandRecorder r, uint position)
    {
        DecodeBuffers d = _d;
        uint hidden = (uint)_c.HiddenSize, slots = (uint)_c.RouteSlots;
        float eps = _c.RmsNormEps;
        r.Begin();
        r.Copy(d.Token, 0, d.History, position * 4UL, 4);   // the token joins the history the repetition penalty reads
        _k.Embed(_model.Embedding.Format).Record(r, _model.Embedding, d.Token.All, d.H.All, 1);
        int layersFrom = r.DispatchCount;
        for (int l = 0; l < _c.Layers; l++)
        {
            DeviceModel.Layer w = _model.Layers[l];
            _k.Norm.Record(r, d.H.All, w.InputNorm.All, d.X.All, 1, hidden, eps);
            MatVec(w.Qkv, MatVecMode.Plain).Record(r, w.Qkv, d.X.All, d.Qkv.All);
            _k.Rope.Record(r, _shape, d.Qkv.All, _model.InverseFrequencies.All, w.QueryNorm?.All, w.KeyNorm?.All, d.Q.All, _cache.Layer(l), 1, position, eps);
            _k.Attention.Record(r, d.Q.All, _cache.Layer(l), d.AttentionPartials.All, d.Attention.All, position + 1);
            MatVec(w.O, MatVecMode.Plain).Record(r, w.O, d.Attention.All, d.H.All, accumulate: true);
            _k.Norm.Record(r, d.H.All, w.PostNorm.All, d.X.All, 1, hidden, eps);
            MatVec(w.Router, MatVecMode.Plain).Record(r, w.Router, d.X.All, d.RouterLogits.All);
            _k.Route.Record(r, d.RouterLogits.All, d.Route.All, _c.Experts, _c.TopK, _c.SharedExperts > 0, _c.NormTopKProb, (float)_c.RoutedScalingFactor);
            // Routed experts on the host: x and the routing go there; the device runs the shared expert meanwhile.
            int point = _model.OnHost(l) ? _host!.RecordHandOff(r, d.X, d.Route, 1) : -1;
            if (w.GateUp is DeviceMatrix gateUp && w.Down is DeviceMatrix down)
            {
                MatVec(gateUp, MatVecMode.GateUp).RecordRouted(r, gateUp, d.X.All, d.ExpertActivations.All, d.Route.All, slots);
                MatVec(down, MatVecMode.Down).RecordRouted(r, down, d.ExpertActivations.All, d.ExpertPartials.All, d.Route.All, slots);
                _k.Combine.Record(r, d.ExpertPartials.All, d.Route.All, d.H.All, hidden, slots, firstSlot: point >= 0 ? (uint)_c.TopK : 0);
            }

            if (point >= 0)
            {
                _host!.RecordReturn(r, _k.Add, point, d.H, 1);
            }
        }

        var layers = new Range(layersFrom, r.DispatchCount);
        RecordHead(r, position + 1);
        r.End();
        return layers;
    }

    /// <summary>Records the prefill of the <paramref name="n"/> tokens in the chunk buffer from <paramref name="position0"/>;
    /// returns the layers' dispatches.</summary>
    private Range RecordPrefill(uint position0, uint n)
    {
        CommandRecorder r = _prefill;
        PrefillBuffers p = _p;
        uint hidden = (uint)_c.HiddenSize, slots = (uint)_c.RouteSlots;
        float eps = _c.RmsNormEps;
        r.Begin();
        r.Copy(p.Tokens, 0, _d.History, position0 * 4UL, n * 4UL);
        _k.Embed(_model.Embedding.Format).Record(r, _model.Embedding, p.Tokens.All, p.H.All, n);
        Capture(r, 0, n);
        int layersFrom = r.DispatchCount;
        for (int l = 0; l < _c.Layers; l++)
        {
            DeviceModel.Layer w = _model.Layers[l];
            _k.Norm.Record(r, p.H.All, w.InputNorm.All, p.X.All, n, hidden, eps);
            MatMul(w.Qkv, MatMulMode.Plain).Record(r, w.Qkv, p.X.All, p.Qkv.All, n);
            _k.Rope.Record(r, _shape, p.Qkv.All, _model.InverseFrequencies.All, w.QueryNorm?.All, w.KeyNorm?.All, p.Q.All, _cache.Layer(l), n, position0, eps);
            _k.Attention.RecordBatch(r, p.Q.All, _cache.Layer(l), p.AttentionPartials.All, p.Attention.All, n, position0);
            MatMul(w.O, MatMulMode.Plain).Record(r, w.O, p.Attention.All, p.H.All, n, accumulate: true);
            _k.Norm.Record(r, p.H.All, w.PostNorm.All, p.X.All, n, hidden, eps);
            MatMul(w.Router, MatMulMode.Plain).Record(r, w.Router, p.X.All, p.RouterLogits.All, n);
            _k.Route.Record(r, p.RouterLogits.All, p.Routes.All, _c.Experts, _c.TopK, _c.SharedExperts > 0, _c.NormTopKProb, (float)_c.RoutedScalingFactor, n);
            int point = _model.OnHost(l) ? _host!.RecordHandOff(r, p.X, p.Routes, n) : -1;
            if (w.GateUp is DeviceMatrix gateUp && w.Down is DeviceMatrix down)
            {
                _k.Group.Record(r, p.Routes.All, p.Groups.All, p.EntryToken.All, p.EntryOf.All, n, slots, (uint)_c.StackedExperts);
                MatMul(gateUp, MatMulMode.GatherGateUp).RecordGrouped(r, gateUp, p.X.All, p.ExpertActivations.All, p.Groups.All, p.EntryToken.All, n);
                MatMul(down, MatMulMode.GatherDown).RecordGrouped(r, down, p.ExpertActivations.All, p.ExpertPartials.All, p.Groups.All, p.EntryToken.All, n);
                _k.Scatter.Record(r, p.ExpertPartials.All, p.Routes.All, p.EntryOf.All, p.H.All, hidden, n, slots, firstSlot: point >= 0 ? (uint)_c.TopK : 0);
            }

            if (point >= 0)
            {
                _host!.RecordReturn(r, _k.Add, point, p.H, n);
            }

            Capture(r, l + 1, n);
        }

        var layers = new Range(layersFrom, r.DispatchCount);
        // The last token's hidden state continues as decode's h: final norm, lm_head, token choice.
        r.Copy(p.H, (ulong)(n - 1) * hidden * 4, _d.H, 0, (ulong)hidden * 4);
        RecordHead(r, position0 + n);
        r.End();
        return layers;
    }

    private void Capture(CommandRecorder r, int index, uint n)
    {
        if (_capture is GpuBuffer capture)
        {
            ulong bytes = n * (ulong)_c.HiddenSize * 4;
            r.Copy(_p.H, 0, capture, (ulong)index * bytes, bytes);
        }
    }

    /// <summary>Final norm, lm_head, then the token choice: on the logits, or on a penalised copy (the logits stay raw).</summary>
    private void RecordHead(CommandRecorder r, uint seen)
    {
        DecodeBuffers d = _d;
        _k.Norm.Record(r, d.H.All, _model.FinalNorm.All, d.X.All, 1, (uint)_c.HiddenSize, _c.RmsNormEps);
        MatVec(_model.LmHead, MatVecMode.Plain).Record(r, _model.LmHead, d.X.All, d.Logits.All);
        GpuBuffer choice = d.Logits;
        if (_sampling.RepetitionPenalty != 1f)
        {
            r.Copy(d.Logits, 0, d.PenalisedLogits, 0, d.Logits.Size);
            _k.Penalty.Record(r, d.PenalisedLogits.All, d.History.All, d.PenaltyScratch.All, seen, _sampling.RepetitionPenalty);
            choice = d.PenalisedLogits;
        }

        if (_sampling.IsGreedy)
        {
            _k.Argmax.Record(r, choice.All, d.Token.All, (uint)_c.VocabSize);
        }
        else
        {
            int topK = Math.Clamp(_sampling.TopK <= 0 ? Sampler.MaxK : _sampling.TopK, 1, Sampler.MaxK);
            _k.Sampler.Record(r, choice.All, d.Token.All, (uint)_c.VocabSize, topK, _sampling.Temperature, _sampling.TopP, _random.NextSingle());
        }
    }

    private MatVecKernel MatVec(DeviceMatrix w, MatVecMode mode) => _k.MatVec(w.Format, mode, w.Cols);

    private MatMulKernel MatMul(DeviceMatrix w, MatMulMode mode) => _k.MatMul(w.Format, mode);
}
