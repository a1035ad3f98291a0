using System.Diagnostics;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Diagnostics;

/// <summary>One self-test case: a kernel at a shape, its NMSE against the CPU reference, the limit, the time.</summary>
public sealed record SelfTestCase(string Kernel, string Shape, double Nmse, double Limit, double Milliseconds, string? Error = null)
{
    public bool Passed => Error is null && Nmse <= Limit;
}

/// <summary>
/// The device's kernels, with its own tuning, against the CPU reference (src/Hunyuan.Vk.Reference) on seeded random
/// data, at small shapes and at Hunyuan-A13B's: every weight format of the matrix kernels (decode matvec, the routed
/// expert products, prefill matmul, embedding), RMSNorm, argmax, and the subgroup probe. The limits are the test
/// suite's. For users after a driver update and for a first run on a new GPU (<c>hyvk selftest</c>).
/// </summary>
public static class SelfTest
{
    private const double MatrixLimit = 1e-6, NormLimit = 1e-7, AttentionLimit = 1e-8;

    /// <summary>The probe's case: with kernels that split across <paramref name="lanes"/> (> 1) it probes their
    /// subgroups and fails where they are not as required; with none (lanes 1) the default subgroups it saw are only
    /// noted, since no kernel depends on them.</summary>
    internal static SelfTestCase ProbeCase(SubgroupProbeResult probe, uint lanes)
    {
        ArgumentNullException.ThrowIfNull(probe);
        bool split = lanes > 1;
        string shape = split ? $"{probe.Invocations} invocations, full subgroups of {lanes}" : $"{probe.Invocations} invocations (no kernel splits across a subgroup)";
        bool failed = split && !probe.Honest;
        return new SelfTestCase("subgroup_probe", probe.Honest || failed ? shape : $"{shape}; note: {probe.Describe()}", failed ? 1 : 0, 0, 0, failed ? probe.Describe() : null);
    }

    /// <param name="context">The device.</param>
    /// <param name="quick">Small shapes only (seconds on lavapipe); otherwise A13B's too.</param>
    /// <param name="progress">Hears each case as it finishes.</param>
    /// <param name="tuning">The kernel shapes to check (null: the device's own, <see cref="DeviceTuning.For"/>).</param>
    public static IReadOnlyList<SelfTestCase> Run(GpuContext context, bool quick = false, Action<SelfTestCase>? progress = null, DeviceTuning? tuning = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        var cases = new List<SelfTestCase>();
        void Add(SelfTestCase c)
        {
            cases.Add(c);
            progress?.Invoke(c);
        }

        tuning ??= DeviceTuning.For(context.Info);
        uint lanes = Math.Max(tuning.MatVecLanes, tuning.AttentionLanes);
        Add(ProbeCase(SubgroupProbe.Run(context, lanes), lanes));
        (int Rows, int Cols)[] matvec = quick ? [(37, 256)] : [(37, 256), (6144, 4096), (4096, 4096)];
        (int Hidden, int Inter)[] experts = quick ? [(256, 128)] : [(256, 128), (4096, 3072)];
        (int Rows, int Cols, int Tokens)[] matmul = quick ? [(70, 256, 11)] : [(70, 256, 11), (4096, 4096, 64)];
        foreach (WeightFormatSpec f in WeightFormats.All)
        {
            foreach ((int rows, int cols) in matvec)
            {
                Add(Case($"matvec_{f.Name}", $"{rows}x{cols}", MatrixLimit, () => MatVec(context, tuning, f.Format, rows, cols)));
            }

            foreach ((int hidden, int inter) in experts)
            {
                Add(Case($"moe_gate_up_{f.Name}", $"3 experts {2 * inter}x{hidden}, 3 slots", MatrixLimit, () => Routed(context, tuning, f.Format, MatVecMode.GateUp, 2 * inter, hidden)));
                Add(Case($"moe_down_{f.Name}", $"3 experts {hidden}x{inter}, 3 slots", MatrixLimit, () => Routed(context, tuning, f.Format, MatVecMode.Down, hidden, inter)));
            }

            foreach ((int rows, int cols, int tokens) in matmul)
            {
                Add(Case($"matmul_{f.Name}", $"{rows}x{cols}, {tokens} tokens", MatrixLimit, () => MatMul(context, tuning, f.Format, rows, cols, tokens)));
            }

            Add(Case($"embed_{f.Name}", quick ? "64x256, 5 tokens" : "512x4096, 5 tokens", MatrixLimit, () => Embed(context, tuning, f.Format, quick ? 64 : 512, quick ? 256 : 4096)));
        }

        foreach (int kvLength in quick ? new[] { 300 } : [300, 4096])
        {
            Add(Case("attn_decode", $"32 heads, 8 kv heads, d 128, {kvLength} positions", AttentionLimit, () => Attention(context, tuning, kvLength)));
        }

        int hiddenSize = quick ? 512 : 4096;
        Add(Case("rms_norm", $"3x{hiddenSize}", NormLimit, () => RmsNorm(context, tuning, 3, hiddenSize)));
        int vocab = quick ? 1000 : 128_167;
        Add(Case("argmax", $"{vocab}", 0, () => Argmax(context, tuning, vocab)));
        return cases;
    }

    private static SelfTestCase Case(string kernel, string shape, double limit, Func<(float[] Expected, float[] Actual, double Ms)> run)
    {
        try
        {
            (float[] expected, float[] actual, double ms) = run();
            return new SelfTestCase(kernel, shape, Nmse.Compute(expected, actual).Value, limit, ms);
        }
        catch (Exception e) when (e is VulkanException or ArgumentException or InvalidOperationException or NotSupportedException)
        {
            return new SelfTestCase(kernel, shape, double.NaN, limit, 0, e.Message);
        }
    }

    private static QuantizedMatrix Matrix(WeightFormat format, int rows, int cols, int seed)
    {
        var random = new Random(seed);
        if (!format.Spec().FromFloats)
        {
            return Quantizer.Random(format, rows, cols, random);
        }

        float[] w = Uniform(random, rows * cols, 0.5f);
        return Quantizer.Quantize(w, rows, cols, format);
    }

    private static float[] Uniform(Random random, int n, float scale = 1f) => [.. Enumerable.Range(0, n).Select(_ => (random.NextSingle() * 2 - 1) * scale)];

    private static double Time(GpuContext context, Action<CommandRecorder> record)
    {
        long start = Stopwatch.GetTimestamp();
        context.Run(record);
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static GpuBuffer Upload(GpuContext context, float[] values, string name)
    {
        GpuBuffer b = context.CreateBuffer((ulong)values.Length * 4, name);
        b.Write<float>(values);
        return b;
    }

    private static float[] Read(GpuBuffer b, int n)
    {
        var values = new float[n];
        b.Read<float>(values);
        return values;
    }

    private static (float[], float[], double) MatVec(GpuContext context, DeviceTuning tuning, WeightFormat format, int rows, int cols)
    {
        QuantizedMatrix q = Matrix(format, rows, cols, seed: rows + cols);
        float[] x = Uniform(new Random(1), cols), expected = new float[rows];
        ModelOps.MatVec<float>(q.Dequantize(), x, expected);
        using DeviceMatrix w = DeviceMatrix.Upload(context, "W", q);
        using GpuBuffer gx = Upload(context, x, "x"), y = context.CreateBuffer((ulong)rows * 4, "y");
        using var kernel = new MatVecKernel(context, tuning, format, (uint)cols);
        double ms = Time(context, r => kernel.Record(r, w, gx.All, y.All));
        return (expected, Read(y, rows), ms);
    }

    /// <summary>Three stacked experts, run by three routing slots in the order 2, 0, 1.</summary>
    private static (float[], float[], double) Routed(GpuContext context, DeviceTuning tuning, WeightFormat format, MatVecMode mode, int rows, int cols)
    {
        int[] ids = [2, 0, 1];
        QuantizedMatrix[] stack = [.. Enumerable.Range(0, 3).Select(e => Matrix(format, rows, cols, seed: 7 + e))];
        float[] x = Uniform(new Random(2), mode == MatVecMode.Down ? ids.Length * cols : cols);
        int outPerSlot = mode == MatVecMode.GateUp ? rows / 2 : rows;
        var expected = new float[ids.Length * outPerSlot];
        var product = new float[rows];
        for (int s = 0; s < ids.Length; s++)
        {
            ModelOps.MatVec<float>(stack[ids[s]].Dequantize(), mode == MatVecMode.Down ? x.AsSpan(s * cols, cols) : x, product);
            for (int i = 0; i < outPerSlot; i++)
            {
                expected[s * outPerSlot + i] = mode == MatVecMode.GateUp ? ModelOps.Silu(product[2 * i]) * product[2 * i + 1] : product[i];
            }
        }

        var route = new uint[MoeRoute.Capacity * 2];
        for (int s = 0; s < ids.Length; s++)
        {
            route[s] = (uint)ids[s];
        }

        using DeviceMatrix w = DeviceMatrix.Upload(context, "experts", stack);
        using GpuBuffer gx = Upload(context, x, "x"), y = context.CreateBuffer((ulong)expected.Length * 4, "y");
        using GpuBuffer groute = context.CreateBuffer(MoeRoute.Bytes, "route");
        groute.Write<uint>(route);
        using var kernel = new MatVecKernel(context, tuning, format, (uint)cols, mode);
        double ms = Time(context, r => kernel.RecordRouted(r, w, gx.All, y.All, groute.All, (uint)ids.Length));
        return (expected, Read(y, expected.Length), ms);
    }

    private static (float[], float[], double) MatMul(GpuContext context, DeviceTuning tuning, WeightFormat format, int rows, int cols, int tokens)
    {
        QuantizedMatrix q = Matrix(format, rows, cols, seed: rows);
        float[] w = q.Dequantize(), x = Uniform(new Random(3), tokens * cols), expected = new float[tokens * rows];
        for (int t = 0; t < tokens; t++)
        {
            ModelOps.MatVec<float>(w, x.AsSpan(t * cols, cols), expected.AsSpan(t * rows, rows));
        }

        using DeviceMatrix dw = DeviceMatrix.Upload(context, "W", q);
        using GpuBuffer gx = Upload(context, x, "X"), y = context.CreateBuffer((ulong)expected.Length * 4, "Y");
        using var kernel = new MatMulKernel(context, tuning, format);
        double ms = Time(context, r => kernel.Record(r, dw, gx.All, y.All, (uint)tokens));
        return (expected, Read(y, expected.Length), ms);
    }

    private static (float[], float[], double) Embed(GpuContext context, DeviceTuning tuning, WeightFormat format, int vocab, int hidden)
    {
        QuantizedMatrix q = Matrix(format, vocab, hidden, seed: 11);
        float[] table = q.Dequantize();
        uint[] tokens = [3, 0, (uint)vocab - 1, 3, 17];
        float[] expected = [.. tokens.SelectMany(t => table.AsSpan((int)t * hidden, hidden).ToArray())];
        using DeviceMatrix e = DeviceMatrix.Upload(context, "embedding", q);
        using GpuBuffer ids = context.CreateBuffer((ulong)tokens.Length * 4, "tokens"), y = context.CreateBuffer((ulong)expected.Length * 4, "out");
        ids.Write<uint>(tokens);
        using var kernel = new EmbedKernel(context, tuning, format);
        double ms = Time(context, r => kernel.Record(r, e, ids.All, y.All, (uint)tokens.Length));
        return (expected, Read(y, expected.Length), ms);
    }

    /// <summary>Decode attention of one token at A13B's heads over an f16 cache, against a softmax in double.</summary>
    private static (float[], float[], double) Attention(GpuContext context, DeviceTuning tuning, int kvLength)
    {
        var shape = new AttentionShape(32, 8, 128);
        int d = shape.HeadDim;
        var random = new Random(kvLength);
        float[] q = Uniform(random, shape.QueryDim);
        Half[] k = [.. Uniform(random, kvLength * shape.KvDim, 2f).Select(v => (Half)v)];
        Half[] v = [.. Uniform(random, kvLength * shape.KvDim).Select(v => (Half)v)];
        var expected = new float[shape.QueryDim];
        ModelOps.DecodeAttention(q, [.. k.Select(h => (float)h)], [.. v.Select(h => (float)h)], shape.Heads, shape.KvHeads, d, kvLength, expected);

        using var kernel = new AttentionDecodeKernel(context, tuning, shape);
        using GpuBuffer gq = Upload(context, q, "q"), gk = context.CreateBuffer((ulong)k.Length * 2, "k cache"), gv = context.CreateBuffer((ulong)v.Length * 2, "v cache");
        gk.Write<Half>(k);
        gv.Write<Half>(v);
        using GpuBuffer partial = context.CreateBuffer(kernel.Splits.PartialFloats((uint)kvLength) * 4, "partial"), output = context.CreateBuffer((ulong)shape.QueryDim * 4, "out");
        var cache = new KvLayer(KvCacheFormat.F16, (uint)kvLength, [gk], [gv], [(uint)kvLength]);   // one page; f16 rows are halves side by side
        double ms = Time(context, r => kernel.Record(r, gq.All, cache, partial.All, output.All, (uint)kvLength));
        return (expected, Read(output, shape.QueryDim), ms);
    }

    private static (float[], float[], double) RmsNorm(GpuContext context, DeviceTuning tuning, int rows, int n)
    {
        var random = new Random(4);
        float[] x = Uniform(random, rows * n, 3f), w = Uniform(random, n), expected = new float[rows * n];
        ModelOps.RmsNorm<float>(x, w, expected, 1e-5f);
        using GpuBuffer gx = Upload(context, x, "x"), gw = Upload(context, w, "w"), y = context.CreateBuffer((ulong)expected.Length * 4, "y");
        using var kernel = new RmsNormKernel(context, tuning);
        double ms = Time(context, r => kernel.Record(r, gx.All, gw.All, y.All, (uint)rows, (uint)n, 1e-5f));
        return (expected, Read(y, expected.Length), ms);
    }

    /// <summary>The chosen index, as a one-element vector, so a wrong index shows as a large NMSE.</summary>
    private static (float[], float[], double) Argmax(GpuContext context, DeviceTuning tuning, int n)
    {
        float[] logits = Uniform(new Random(5), n, 4f);
        using GpuBuffer gl = Upload(context, logits, "logits"), token = context.CreateBuffer(4, "token");
        using var kernel = new ArgmaxKernel(context, tuning);
        double ms = Time(context, r => kernel.Record(r, gl.All, token.All, (uint)n));
        var chosen = new uint[1];
        token.Read<uint>(chosen);
        return ([ModelOps.ArgMax<float>(logits) + 1], [chosen[0] + 1], ms);
    }
}
