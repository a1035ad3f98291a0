using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Reference;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

/// <summary>
/// The kernel shapes GPUs get from <see cref="DeviceTuning"/> (several subgroups per workgroup, a subgroup splitting
/// each row and summing with subgroupAdd, x staged in shared memory, cross-subgroup reductions through shared memory),
/// run here on lavapipe with its subgroup of 8, so those code paths are tested without a GPU.
/// </summary>
public sealed class GpuShapeTests : VulkanTest
{
    private static DeviceTuning GpuLike => Gpu.Tuning with
    {
        NormWorkgroup = 4 * Context.Info.SubgroupSize,
        MatVecWorkgroup = 4 * Context.Info.SubgroupSize,
        MatVecLanes = Context.Info.SubgroupSize,
        MatVecRows = 2,
        MatVecSharedX = true,
        MatMulWorkgroup = 16,
        MatMulRows = 4,
        MatMulTokens = 8,
        MatMulSharedX = true,
        AttentionWorkgroup = 32,
        AttentionLanes = Context.Info.SubgroupSize,
        ReductionWorkgroup = 64,
        ElementwiseWorkgroup = 256,
    };

    [TestCase(WeightFormat.Q4, 130, 1024)]
    [TestCase(WeightFormat.Q4Z, 37, 512)]
    [TestCase(WeightFormat.Q8, 1000, 4096)]
    [TestCase(WeightFormat.F16, 5, 256)]
    public void Matvec_with_subgroup_rows_and_shared_x(WeightFormat format, int rows, int cols)
    {
        QuantizedMatrix q = MatVecTests.Matrix(format, rows, cols, seed: rows);
        float[] x = TestData.Uniform(cols, cols);
        var expected = new float[rows];
        ModelOps.MatVec<float>(q.Dequantize(), x, expected);
        using DeviceMatrix w = DeviceMatrix.Upload(Context, "W", q);
        using GpuBuffer gx = Upload(x, "x");
        using var y = new GuardedOutput(Context, rows, "y");
        using var kernel = new MatVecKernel(Context, GpuLike, format, (uint)cols);
        Context.Run(r => kernel.Record(r, w, gx.All, y.Range));
        AssertNmse.Close(expected, y.Read(), 1e-6, $"GPU-shaped matvec {format}");
    }

    [TestCase(WeightFormat.Q4, 70, 256, 11)]
    [TestCase(WeightFormat.Q8, 33, 128, 3)]
    public void Matmul_with_shared_x_tiles(WeightFormat format, int rows, int cols, int tokens)
    {
        QuantizedMatrix q = MatVecTests.Matrix(format, rows, cols, seed: rows);
        float[] w = q.Dequantize();
        float[] x = TestData.Uniform(tokens, tokens * cols);
        var expected = new float[tokens * rows];
        for (int t = 0; t < tokens; t++)
        {
            ModelOps.MatVec<float>(w, x.AsSpan(t * cols, cols), expected.AsSpan(t * rows, rows));
        }

        using DeviceMatrix dw = DeviceMatrix.Upload(Context, "W", q);
        using GpuBuffer gx = Upload(x, "X");
        using var y = new GuardedOutput(Context, expected.Length, "Y");
        using var kernel = new MatMulKernel(Context, GpuLike, format);
        Context.Run(r => kernel.Record(r, dw, gx.All, y.Range, (uint)tokens));
        AssertNmse.Close(expected, y.Read(), 1e-6, $"GPU-shaped matmul {format}");
    }

    [Test]
    public void Rms_norm_across_subgroups()
    {
        const int Rows = 3, N = 4099;
        float[] x = TestData.Uniform(1, Rows * N, 3f), w = TestData.Uniform(2, N);
        var expected = new float[Rows * N];
        ModelOps.RmsNorm<float>(x, w, expected, 1e-5f);
        using GpuBuffer gx = Upload(x, "x"), gw = Upload(w, "w");
        using var y = new GuardedOutput(Context, Rows * N, "y");
        using var kernel = new RmsNormKernel(Context, GpuLike);
        Context.Run(r => kernel.Record(r, gx.All, gw.All, y.Range, Rows, N, 1e-5f));
        AssertNmse.Close(expected, y.Read(), 1e-7, "GPU-shaped rms_norm");
    }

    // Workgroups of 32: f16's 16 texels x 4 heads are more than the workgroup (each invocation takes texels for all
    // heads), int8's 8 x 4 are not (one invocation per texel and head); of 64, both are one per pair.
    [TestCase(KvCacheFormat.F16, 600, 0, 32u)]
    [TestCase(KvCacheFormat.Q8, 600, 0, 32u)]
    [TestCase(KvCacheFormat.F16, 5000, 1500, 32u)]   // several chunks per split, four pages
    [TestCase(KvCacheFormat.Q8, 5000, 1500, 32u)]
    [TestCase(KvCacheFormat.F16, 5000, 1500, 64u)]
    [TestCase(KvCacheFormat.Q8, 600, 0, 64u)]
    public void Attention_with_several_subgroups(KvCacheFormat format, int kvLength, int pagePositions, uint workgroup)
    {
        var shape = new AttentionShape(8, 2, 128);
        int page = pagePositions > 0 ? pagePositions : kvLength;
        float[] q = TestData.Uniform(3, shape.QueryDim);
        (uint[][] kPages, float[] k) = KvPages.Pack(TestData.Uniform(4, kvLength * shape.KvDim, 2f), format, shape.KvHeads, shape.HeadDim, page);
        (uint[][] vPages, float[] v) = KvPages.Pack(TestData.Uniform(5, kvLength * shape.KvDim), format, shape.KvHeads, shape.HeadDim, page);
        var expected = new float[shape.QueryDim];
        ModelOps.DecodeAttention(q, k, v, shape.Heads, shape.KvHeads, shape.HeadDim, kvLength, expected);

        var owned = new List<GpuBuffer>();
        try
        {
            KvLayer cache = KvPages.Upload(Context, kPages, vPages, format, page, kvLength, owned);
            using var kernel = new AttentionDecodeKernel(Context, GpuLike with { AttentionWorkgroup = workgroup }, shape, format);
            using GpuBuffer gq = Upload(q, "q");
            using GpuBuffer partial = Context.CreateBuffer(kernel.Splits.PartialFloats((uint)kvLength, 1, (uint)page) * 4, "partial");
            using var output = new GuardedOutput(Context, shape.QueryDim, "out");
            Context.Run(r => kernel.Record(r, gq.All, cache, partial.All, output.Range, (uint)kvLength));
            AssertNmse.Close(expected, output.Read(), 1e-8, $"GPU-shaped attention, {format}, {kvLength} positions");
        }
        finally
        {
            owned.ForEach(b => b.Dispose());
        }
    }

    [Test]
    public void Sampling_and_argmax_with_large_workgroups()
    {
        const int N = 128_167;
        float[] logits = TestData.Uniform(9, N, 4f);
        int best = Array.IndexOf(logits, logits.Max());
        int[] order = [.. Enumerable.Range(0, N).OrderByDescending(i => logits[i]).ThenBy(i => i).Take(40)];
        using GpuBuffer gl = Upload(logits, "logits"), tokens = Context.CreateBuffer(8, "tokens");
        using var argmax = new ArgmaxKernel(Context, GpuLike);
        using var sampler = new Sampler(Context, GpuLike, N);
        Context.Run(r =>
        {
            argmax.Record(r, gl.All, tokens.All, N, slot: 0);
            sampler.Record(r, gl.All, tokens.All, N, 40, temperature: 1f, topP: 1f, u: 0f, slot: 1);
        });
        var chosen = new uint[2];
        var ids = new uint[Sampler.MaxK];
        tokens.Read<uint>(chosen);
        sampler.CandidateIds.Buffer.Read<uint>(ids, sampler.CandidateIds.Offset);
        Assert.That(chosen, Is.EqualTo(new[] { (uint)best, (uint)order[0] }), "argmax; and u = 0 picks the top candidate");
        Assert.That(ids[..40], Is.EqualTo(order.Select(i => (uint)i).ToArray()));
    }
}
