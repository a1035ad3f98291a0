using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

/// <summary>The decode MoE on the GPU: routing, the routed gate/up with SwiGLU, the routed down, the weighted combine.</summary>
public sealed class MoeTests : VulkanTest
{
    private const int Hidden = 256, Inter = 128, Experts = 8, TopK = 3, Slots = TopK + 1;

    private static (int[] Ids, float[] Weights) ReadRoute(GpuBuffer route)
    {
        var ids = new uint[MoeRoute.Capacity];
        var weights = new float[MoeRoute.Capacity];
        route.Read<uint>(ids);
        route.Read<float>(weights, MoeRoute.Capacity * 4);
        return (ids.Select(i => (int)i).ToArray(), weights);
    }

    private static (int[] Ids, double[] Weights) ReferenceRoute(float[] logits, int topK, bool norm)
    {
        double[] probs = logits.Select(v => (double)v).ToArray();
        ModelOps.Softmax<double>(probs);
        int[] ids = ModelOps.TopK<double>(probs, topK);
        double sum = ids.Sum(i => probs[i]);
        return (ids, ids.Select(i => norm ? probs[i] / sum : probs[i]).ToArray());
    }

    [TestCase(64, 8, true)]
    [TestCase(8, 3, true)]
    [TestCase(16, 4, false)]
    public void Routing_matches_softmax_top_k_renormalise(int experts, int topK, bool norm)
    {
        float[] logits = TestData.Uniform(experts + topK, experts, scale: 3f);
        (int[] ids, double[] weights) = ReferenceRoute(logits, topK, norm);
        using GpuBuffer gl = Upload(logits, "logits"), route = Context.CreateBuffer(MoeRoute.Bytes, "route");
        MoeRouteKernel kernel = Gpu.Kernel((c, t) => new MoeRouteKernel(c, t));
        Context.Run(r => kernel.Record(r, gl.All, route.All, new MoeGating(experts, topK, SharedExpert: true, norm, Scaling: 1f)));
        (int[] gpuIds, float[] gpuWeights) = ReadRoute(route);
        Assert.That(gpuIds[..topK], Is.EqualTo(ids), "the same experts in the same order (exact)");
        Assert.That(gpuWeights[..topK], Is.EqualTo(weights.Select(w => (float)w).ToArray()).Within(1e-6));
        Assert.That((gpuIds[topK], gpuWeights[topK]), Is.EqualTo((experts, 1f)), "the shared expert as the last slot");
    }

    [Test]
    public void Routing_breaks_ties_by_lower_index()
    {
        float[] logits = [0.5f, 2f, 1f, 2f, 2f, -1f, 1f, 0f];
        using GpuBuffer gl = Upload(logits, "logits"), route = Context.CreateBuffer(MoeRoute.Bytes, "route");
        Context.Run(r => Gpu.Kernel((c, t) => new MoeRouteKernel(c, t)).Record(r, gl.All, route.All, new MoeGating(8, 4, SharedExpert: false, NormTopK: true, Scaling: 1f)));
        Assert.That(ReadRoute(route).Ids[..4], Is.EqualTo(new[] { 1, 3, 4, 2 }));
    }

    /// <summary>#24 point 7: decode's combine built with the norm also writes x = rmsnorm(h) * w of the new h (the next
    /// layer's input norm) in the same dispatch; h is what the plain combine writes.</summary>
    [Test]
    public void Combine_with_the_next_norm_writes_h_and_its_norm()
    {
        const int N = 4096, S = 9;
        const float Eps = 1e-5f;
        float[] partials = TestData.Uniform(21, S * N), h0 = TestData.Uniform(22, N, scale: 4f), norm = TestData.Uniform(23, N, scale: 2f);
        float[] weights = TestData.Uniform(24, S);
        var route = new uint[MoeRoute.Capacity * 2];
        for (int s = 0; s < S; s++)
        {
            route[MoeRoute.Capacity + s] = BitConverter.SingleToUInt32Bits(weights[s]);
        }

        var h = new double[N];
        for (int i = 0; i < N; i++)
        {
            h[i] = h0[i];
            for (int s = 0; s < S; s++)
            {
                h[i] += (double)weights[s] * partials[s * N + i];
            }
        }

        double scale = 1 / Math.Sqrt(h.Sum(v => v * v) / N + Eps);
        float[] wantX = [.. h.Select((v, i) => (float)(v * scale * norm[i]))];

        using GpuBuffer gp = Upload(partials, "partials"), gh = Upload(h0, "h"), gw = Upload(norm, "norm");
        using GpuBuffer groute = Context.CreateBuffer(MoeRoute.Bytes, "route");
        groute.Write<uint>(route);
        using var x = new GuardedOutput(Context, N, "x");
        MoeCombineKernel kernel = Gpu.Kernel((c, t) => new MoeCombineNormHolder(c, t)).Kernel;
        Context.Run(r => kernel.RecordNormed(r, gp.All, groute.All, gh.All, N, S, gw.All, x.Range, Eps));
        var gotH = new float[N];
        gh.Read<float>(gotH);
        AssertNmse.Close([.. h.Select(v => (float)v)], gotH, 1e-12, "h");
        AssertNmse.Close(wantX, x.Read(), 1e-10, "x = rmsnorm(h) * w (a sum of 4096 squares in f32)");
    }

    private sealed class MoeCombineNormHolder(GpuContext context, DeviceTuning tuning) : IDisposable
    {
        public MoeCombineKernel Kernel { get; } = new(context, tuning, norm: true);

        public void Dispose() => Kernel.Dispose();
    }

    /// <summary>#24 point 3: router logits that are not finite (a NaN, +inf, -inf, all NaN) choose experts in range,
    /// weighted NaN so the NaN reaches the logits; the tokens around them route as before. Before: no lane matched a
    /// NaN best value and the id was 0xFFFFFFFF.</summary>
    [Test]
    public void Router_logits_that_are_not_finite_route_in_range_with_nan_weights()
    {
        const int E = 64, K = 8, Tokens = 6;
        float[] logits = TestData.Uniform(77, Tokens * E, scale: 3f);
        logits[1 * E + 5] = float.NaN;
        logits[2 * E + 63] = float.PositiveInfinity;
        logits[3 * E] = float.NegativeInfinity;
        Array.Fill(logits, float.NaN, 4 * E, E);
        bool[] bad = [false, true, true, true, true, false];
        using GpuBuffer gl = Upload(logits, "logits"), routes = Context.CreateBuffer(MoeRoute.Bytes * Tokens, "routes");
        MoeRouteKernel kernel = Gpu.Kernel((c, t) => new MoeRouteKernel(c, t));
        Context.Run(r => kernel.Record(r, gl.All, routes.All, new MoeGating(E, K, SharedExpert: true, NormTopK: true, Scaling: 2.5f), tokens: Tokens));
        var back = new uint[Tokens * MoeRoute.Capacity * 2];
        routes.Read<uint>(back);
        for (int t = 0; t < Tokens; t++)
        {
            int[] ids = [.. back.Skip(t * MoeRoute.Capacity * 2).Take(K + 1).Select(i => (int)i)];
            float[] weights = [.. back.Skip((t * 2 + 1) * MoeRoute.Capacity).Take(K + 1).Select(BitConverter.UInt32BitsToSingle)];
            Assert.That((ids[K], weights[K]), Is.EqualTo((E, 1f)), $"token {t}: the shared expert as ever");
            if (bad[t])
            {
                Assert.That(ids[..K], Is.EqualTo(Enumerable.Range(0, K)), $"token {t}: experts in range");
                Assert.That(weights[..K], Has.All.NaN, $"token {t}: weights NaN, to reach the logits");
            }
            else
            {
                (int[] want, double[] wantWeights) = ReferenceRoute(logits[(t * E)..((t + 1) * E)], K, norm: true);
                Assert.That(ids[..K], Is.EqualTo(want), $"token {t}: routed as the reference");
                Assert.That(weights[..K], Is.EqualTo(wantWeights.Select(w => (float)(w * 2.5))).Within(1e-5), $"token {t}'s weights");
            }
        }
    }

    /// <summary>#24 point 3: a route with ids past the experts (corrupt) groups within bounds: nothing written past
    /// a buffer (the guards), every (token, slot) counted once and given an entry in range. (Ids that clamp to one
    /// expert within a token share an entry, so some list places stay unwritten: a corrupt route computes garbage,
    /// never out of bounds.)</summary>
    [Test]
    public void Grouping_keeps_ids_past_the_experts_in_bounds()
    {
        const int Tokens = 70, Slots = 9, Groups = 65;
        var routes = new uint[Tokens * MoeRoute.Capacity * 2];
        for (int t = 0; t < Tokens; t++)
        {
            for (int s = 0; s < Slots; s++)
            {
                routes[t * MoeRoute.Capacity * 2 + s] = t % 3 == 0 ? 0xFFFFFFFFu - (uint)s : (uint)(s * 7 + t) % Groups;
            }
        }

        using GpuBuffer groute = Context.CreateBuffer((ulong)routes.Length * 4, "routes");
        groute.Write<uint>(routes);
        using var group = new GuardedOutput(Context, (int)MoeGroupKernel.GroupUints, "group");
        using var entryToken = new GuardedOutput(Context, Tokens * Slots, "entry token");
        using var entryOf = new GuardedOutput(Context, Tokens * Slots, "entry of");
        using var kernel = new MoeGroupKernel(Context);
        Context.Run(r => kernel.Record(r, groute.All, group.Range, entryToken.Range, entryOf.Range, Tokens, Slots, Groups));
        uint[] counts = [.. group.Read().Take(Groups).Select(BitConverter.SingleToUInt32Bits)];
        Assert.That(counts.Sum(c => (long)c), Is.EqualTo(Tokens * Slots), "every (token, slot) counted once");
        Assert.That(entryOf.Read().Select(BitConverter.SingleToUInt32Bits), Has.All.LessThan(Tokens * Slots), "entries in range");
        Assert.That(entryToken.Read().Select(BitConverter.SingleToUInt32Bits).Where(v => v != GuardedOutput.PoisonBits), Has.All.LessThan(Tokens), "tokens written in range");
    }

    /// <summary>Decode's MoE: moe_route, the routed gate/up and down, the combine. With <paramref name="routesInGateUp"/>
    /// (#24 point 7; GPU rows, whose gate/up splits rows across subgroups) the gate/up product routes from the logits
    /// itself and stores the route the down product and the combine read: the same result, and the same route.</summary>
    [TestCase(WeightFormat.Q4, false)]
    [TestCase(WeightFormat.Q8, false)]
    [TestCase(WeightFormat.F16, false)]
    [TestCase(WeightFormat.Q4Z, false)]
    [TestCase(WeightFormat.Q4, true)]
    [TestCase(WeightFormat.Q4Z, true)]
    public void Routed_experts_with_shared_expert_and_combine(WeightFormat format, bool routesInGateUp)
    {
        if (routesInGateUp && !Gpu.Tuning.RoutesInGateUp)
        {
            Assert.Ignore($"the {Gpu.Tuning.Row} row's gate/up walks whole rows per invocation: it reads moe_route's routes (HYVK_TUNING=nvidia, amd or intel routes in gate/up)");
        }

        // Expert e's gate/up stacked as interleaved rows [gate_0, up_0, gate_1, ...]; the shared expert is stack entry Experts.
        QuantizedMatrix[] gateUp = [.. Enumerable.Range(0, Experts + 1).Select(e => MatVecTests.Matrix(format, 2 * Inter, Hidden, 100 + e))];
        QuantizedMatrix[] down = [.. Enumerable.Range(0, Experts + 1).Select(e => MatVecTests.Matrix(format, Hidden, Inter, 200 + e))];
        float[] x = TestData.Uniform(1, Hidden);
        float[] logits = TestData.Uniform(2, Experts, scale: 3f);
        float[] h0 = TestData.Uniform(3, Hidden);

        // Reference: h = h0 + shared(x) + sum_k w_k expert_k(x).
        (int[] ids, double[] weights) = ReferenceRoute(logits, TopK, norm: true);
        int[] slotIds = [.. ids, Experts];
        double[] slotWeights = [.. weights, 1.0];
        var act = new float[Slots * Inter];
        var expected = h0.Select(v => (double)v).ToArray();
        for (int s = 0; s < Slots; s++)
        {
            float[] gu = new float[2 * Inter];
            ModelOps.MatVec<float>(gateUp[slotIds[s]].Dequantize(), x, gu);
            for (int i = 0; i < Inter; i++)
            {
                act[s * Inter + i] = (float)(ModelOps.Silu<double>(gu[2 * i]) * gu[2 * i + 1]);
            }

            float[] y = new float[Hidden];
            ModelOps.MatVec<float>(down[slotIds[s]].Dequantize(), act.AsSpan(s * Inter, Inter), y);
            for (int i = 0; i < Hidden; i++)
            {
                expected[i] += slotWeights[s] * y[i];
            }
        }

        using DeviceMatrix gw = DeviceMatrix.Upload(Context, "gate_up", gateUp), dw = DeviceMatrix.Upload(Context, "down", down);
        using GpuBuffer gx = Upload(x, "x"), gl = Upload(logits, "logits"), h = Upload(h0, "h");
        using GpuBuffer route = Context.CreateBuffer(MoeRoute.Bytes, "route"), partial = Context.CreateBuffer(Slots * Hidden * 4, "partials");
        using var gact = new GuardedOutput(Context, Slots * Inter, "act");
        var kernels = Gpu.Kernel((c, t) => new MoeHolder(c, t));
        route.Write<uint>(new uint[MoeRoute.Capacity * 2]);
        Context.Run(r =>
        {
            if (routesInGateUp)
            {
                kernels.Get(format, MatVecMode.GateUp, Hidden, routes: true)
                    .RecordRoutedFromLogits(r, gw, gx.All, gact.Range, route.All, gl.All, new MoeGating(Experts, TopK, SharedExpert: true, NormTopK: true, Scaling: 1f));
            }
            else
            {
                kernels.Route.Record(r, gl.All, route.All, new MoeGating(Experts, TopK, SharedExpert: true, NormTopK: true, Scaling: 1f));
                r.Barrier();
                kernels.Get(format, MatVecMode.GateUp, Hidden).RecordRouted(r, gw, gx.All, gact.Range, route.All, Slots);
            }

            r.Barrier();
            kernels.Get(format, MatVecMode.Down, Inter).RecordRouted(r, dw, gact.Range, partial.All, route.All, Slots);
            r.Barrier();
            kernels.Combine.Record(r, partial.All, route.All, h.All, Hidden, Slots);
        });

        AssertNmse.Close(act, gact.Read(), 1e-6, $"{format} act = silu(gate x) * (up x) per slot");
        var actual = new float[Hidden];
        h.Read<float>(actual);
        AssertNmse.Close(expected.Select(v => (float)v).ToArray(), actual, 1e-6, $"{format} h + MoE(x)");
        (int[] storedIds, float[] storedWeights) = ReadRoute(route);
        Assert.That(storedIds[..Slots], Is.EqualTo(slotIds), "the route stored for the products after");
        Assert.That(storedWeights[..Slots], Is.EqualTo(slotWeights.Select(w => (float)w)).Within(1e-6));
    }

    [TestCase(WeightFormat.Q4, 13)]
    [TestCase(WeightFormat.Q8, 1)]
    [TestCase(WeightFormat.F16, 20)]
    [TestCase(WeightFormat.Q4Z, 9)]
    public void Prefill_grouped_by_expert_matches_reference(WeightFormat format, int tokens)
    {
        QuantizedMatrix[] gateUp = [.. Enumerable.Range(0, Experts + 1).Select(e => MatVecTests.Matrix(format, 2 * Inter, Hidden, 300 + e))];
        QuantizedMatrix[] down = [.. Enumerable.Range(0, Experts + 1).Select(e => MatVecTests.Matrix(format, Hidden, Inter, 400 + e))];
        float[] x = TestData.Uniform(11, tokens * Hidden);
        float[] logits = TestData.Uniform(12, tokens * Experts, scale: 3f);
        float[] h0 = TestData.Uniform(13, tokens * Hidden);
        float[][] gu = gateUp.Select(m => m.Dequantize()).ToArray(), dn = down.Select(m => m.Dequantize()).ToArray();

        var expected = new float[tokens * Hidden];
        for (int t = 0; t < tokens; t++)
        {
            (int[] ids, double[] weights) = ReferenceRoute(logits[(t * Experts)..((t + 1) * Experts)], TopK, norm: true);
            int[] slotIds = [.. ids, Experts];
            double[] slotWeights = [.. weights, 1.0];
            var acc = h0.Skip(t * Hidden).Take(Hidden).Select(v => (double)v).ToArray();
            for (int s = 0; s < Slots; s++)
            {
                var g = new float[2 * Inter];
                ModelOps.MatVec<float>(gu[slotIds[s]], x.AsSpan(t * Hidden, Hidden), g);
                float[] activation = [.. Enumerable.Range(0, Inter).Select(i => (float)(ModelOps.Silu<double>(g[2 * i]) * g[2 * i + 1]))];
                var y = new float[Hidden];
                ModelOps.MatVec<float>(dn[slotIds[s]], activation, y);
                for (int i = 0; i < Hidden; i++)
                {
                    acc[i] += slotWeights[s] * y[i];
                }
            }

            acc.Select(v => (float)v).ToArray().CopyTo(expected, t * Hidden);
        }

        uint entries = (uint)(tokens * Slots);
        using DeviceMatrix gw = DeviceMatrix.Upload(Context, "gate_up", gateUp), dw = DeviceMatrix.Upload(Context, "down", down);
        using GpuBuffer gx = Upload(x, "x"), gl = Upload(logits, "logits"), h = Upload(h0, "h");
        using GpuBuffer routes = Context.CreateBuffer(MoeRoute.Bytes * (ulong)tokens, "routes");
        using GpuBuffer group = Context.CreateBuffer(MoeGroupKernel.GroupUints * 4, "group");
        using GpuBuffer entryToken = Context.CreateBuffer(entries * 4, "entry token"), entryOf = Context.CreateBuffer(entries * 4, "entry of");
        using GpuBuffer act = Context.CreateBuffer(entries * Inter * 4, "act"), partial = Context.CreateBuffer(entries * Hidden * 4, "partials");
        using var route = new MoeRouteKernel(Context, Gpu.Tuning);
        using var groupKernel = new MoeGroupKernel(Context);
        using var gateUpKernel = new MatMulKernel(Context, Gpu.Tuning, format, MatMulMode.GatherGateUp);
        using var downKernel = new MatMulKernel(Context, Gpu.Tuning, format, MatMulMode.GatherDown);
        using var scatter = new MoeScatterKernel(Context, Gpu.Tuning);
        Context.Run(r =>
        {
            route.Record(r, gl.All, routes.All, new MoeGating(Experts, TopK, SharedExpert: true, NormTopK: true, Scaling: 1f), tokens: (uint)tokens);
            r.Barrier();
            groupKernel.Record(r, routes.All, group.All, entryToken.All, entryOf.All, (uint)tokens, Slots, Experts + 1);
            r.Barrier();
            gateUpKernel.RecordGrouped(r, gw, gx.All, act.All, group.All, entryToken.All, (uint)tokens);
            r.Barrier();
            downKernel.RecordGrouped(r, dw, act.All, partial.All, group.All, entryToken.All, (uint)tokens);
            r.Barrier();
            scatter.Record(r, partial.All, routes.All, entryOf.All, h.All, Hidden, (uint)tokens, Slots);
        });

        var actual = new float[tokens * Hidden];
        h.Read<float>(actual);
        var counts = new uint[Experts + 1];
        group.Read<uint>(counts);
        Assert.That(counts.Sum(c => (long)c), Is.EqualTo(entries), "every (token, slot) assignment listed once");
        Assert.That(counts[Experts], Is.EqualTo((uint)tokens), "the shared expert sees every token");
        AssertNmse.Close(expected, actual, 1e-6, $"{format} prefill MoE over {tokens} tokens");
    }

    [TestCase(1)]
    [TestCase(64)]
    [TestCase(150)]   // three passes of 64
    public void Grouping_lists_each_experts_tokens_in_token_order_as_a_serial_walk_does(int tokens)
    {
        const int Routed = 64, TopK = 8, Slots = TopK + 1, Groups = Routed + 1;
        var random = new Random(tokens);
        var routes = new uint[tokens * MoeRoute.Capacity * 2];   // struct Route: ids, then weights
        var ids = new int[tokens, Slots];
        for (int t = 0; t < tokens; t++)
        {
            int[] chosen = [.. Enumerable.Range(0, Routed).OrderBy(_ => random.Next()).Take(TopK), Routed];
            for (int s = 0; s < Slots; s++)
            {
                ids[t, s] = chosen[s];
                routes[t * MoeRoute.Capacity * 2 + s] = (uint)chosen[s];
            }
        }

        // The serial walk: counts, their prefix sums, then entries handed out in (token, slot) order.
        var counts = new uint[Groups];
        foreach (int e in ids)
        {
            counts[e]++;
        }

        var offsets = new uint[Groups];
        for (int e = 1; e < Groups; e++)
        {
            offsets[e] = offsets[e - 1] + counts[e - 1];
        }

        uint[] next = [.. offsets];
        var entryToken = new uint[tokens * Slots];
        var entryOf = new uint[tokens * Slots];
        for (int t = 0; t < tokens; t++)
        {
            for (int s = 0; s < Slots; s++)
            {
                uint entry = next[ids[t, s]]++;
                entryToken[entry] = (uint)t;
                entryOf[t * Slots + s] = entry;
            }
        }

        using GpuBuffer groute = Context.CreateBuffer((ulong)routes.Length * 4, "routes");
        groute.Write<uint>(routes);
        using GpuBuffer group = Context.CreateBuffer(MoeGroupKernel.GroupUints * 4, "group");
        using GpuBuffer gToken = Context.CreateBuffer((ulong)entryToken.Length * 4, "entry token"), gOf = Context.CreateBuffer((ulong)entryOf.Length * 4, "entry of");
        using var kernel = new MoeGroupKernel(Context);
        Context.Run(r => kernel.Record(r, groute.All, group.All, gToken.All, gOf.All, (uint)tokens, Slots, Groups));

        var groupBack = new uint[MoeGroupKernel.GroupUints];
        group.Read<uint>(groupBack);
        var tokenBack = new uint[entryToken.Length];
        gToken.Read<uint>(tokenBack);
        var ofBack = new uint[entryOf.Length];
        gOf.Read<uint>(ofBack);
        Assert.That(groupBack.Take(Groups), Is.EqualTo(counts), "counts");
        Assert.That(groupBack.Skip(ShaderLimits.MaxExpertGroups).Take(Groups), Is.EqualTo(offsets), "offsets");
        Assert.That(tokenBack, Is.EqualTo(entryToken), "each list's tokens, in token order");
        Assert.That(ofBack, Is.EqualTo(entryOf), "each (token, slot)'s entry");
    }

    private sealed class MoeHolder(GpuContext context, DeviceTuning tuning) : IDisposable
    {
        private readonly Dictionary<(WeightFormat, MatVecMode, int, bool), MatVecKernel> _matvec = [];

        public MoeRouteKernel Route { get; } = new(context, tuning);
        public MoeCombineKernel Combine { get; } = new(context, tuning);

        public MatVecKernel Get(WeightFormat f, MatVecMode mode, int cols, bool routes = false)
        {
            if (!_matvec.TryGetValue((f, mode, cols, routes), out MatVecKernel? k))
            {
                _matvec[(f, mode, cols, routes)] = k = new MatVecKernel(context, tuning, f, (uint)cols, mode, routes);
            }

            return k;
        }

        public void Dispose()
        {
            Route.Dispose();
            Combine.Dispose();
            foreach (MatVecKernel k in _matvec.Values)
            {
                k.Dispose();
            }
        }
    }
}
