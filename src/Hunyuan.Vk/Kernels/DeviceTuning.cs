using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>
/// Kernel shapes for one device, passed to shaders as specialization constants. Chosen from a row per device kind
/// (the device's type and vendor, or the row <see cref="RowVariable"/> names) and sized by its subgroup: GPUs get
/// wide workgroups; lavapipe gets one subgroup per workgroup, since barriers and shared memory turn its invocations
/// into slow coroutines (docs/lavapipe.md).
/// </summary>
public sealed record DeviceTuning
{
    /// <summary>The row of the table these shapes came from (<see cref="Rows"/>); "custom" for hand-made shapes.</summary>
    public string Row { get; init; } = "custom";

    /// <summary>Invocations per workgroup of elementwise kernels.</summary>
    public required uint ElementwiseWorkgroup { get; init; }

    /// <summary>Invocations per workgroup of row reductions (RMSNorm): one workgroup per row.</summary>
    public required uint NormWorkgroup { get; init; }

    /// <summary>Invocations per workgroup of matrix-vector products.</summary>
    public required uint MatVecWorkgroup { get; init; }

    /// <summary>Rows each group of <see cref="MatVecLanes"/> invocations computes.</summary>
    public required uint MatVecRows { get; init; }

    /// <summary>Invocations that split one row's blocks: 1 (each walks whole rows; x reads are uniform) or the subgroup size
    /// (a subgroup reads a row's blocks side by side, coalesced, and sums with subgroupAdd).</summary>
    public uint MatVecLanes { get; init; } = 1;

    /// <summary>Whether decode's gate/up product routes the token itself (include/routing.glsl, split across each of its
    /// subgroups) instead of after a moe_route pass: where its rows are split across full subgroups. One dispatch and one
    /// barrier fewer a layer; lavapipe (one invocation a row group) keeps the pass.</summary>
    public bool RoutesInGateUp => MatVecLanes > 1;

    /// <summary>Invocations per workgroup of prefill matrix products.</summary>
    public uint MatMulWorkgroup { get; init; } = 64;

    /// <summary>Rows each prefill invocation computes.</summary>
    public uint MatMulRows { get; init; } = 4;

    /// <summary>Tokens each prefill invocation computes (each dequantized weight block serves them all).</summary>
    public uint MatMulTokens { get; init; } = 8;

    /// <summary>Stage the tokens' x blocks in shared memory (GPUs) rather than reading the storage buffer directly.</summary>
    public bool MatMulSharedX { get; init; } = true;

    /// <summary>Prefill products stage a coalesced weight tile in shared memory (GPUs: consecutive invocations load 128
    /// contiguous bytes of each row, read once per token tile), where it fits the device's shared memory.</summary>
    public bool MatMulTileW { get; init; }

    /// <summary>Invocations per workgroup of decode attention and its combine pass.</summary>
    public uint AttentionWorkgroup { get; init; } = 64;

    /// <summary>KV-cache positions per attention split at most (the shared score array holds group x chunk floats).</summary>
    public uint AttentionChunk { get; init; } = 256;

    /// <summary>Splits a decode step's attention gets at least (chunks shrink for short contexts): kv heads x splits
    /// workgroups must fill a GPU; 1 keeps whole chunks (lavapipe, whose two cores any split count fills).</summary>
    public uint AttentionMinSplits { get; init; } = 1;

    /// <summary>Splits per kv head a long context's attention is cut into (each split then takes several chunks, with a
    /// running softmax): enough workgroups to fill the device, few enough partials to merge. Short contexts get fewer.</summary>
    public uint AttentionMaxSplits { get; init; } = 64;

    /// <summary>Loop iterations one invocation may run in all (0: no bound). lavapipe ends an invocation's loops after
    /// 65535 iterations, silently; a split's chunks are capped to stay within it. Set for any CPU device, whatever the row.</summary>
    public uint AttentionLoopBudget { get; init; }

    /// <summary>Invocations across the head dimension for one position's scores: 1 (each invocation one position) or
    /// the subgroup size (a subgroup reads a K row side by side and sums with subgroupAdd; full subgroups required).</summary>
    public uint AttentionLanes { get; init; } = 1;

    /// <summary>Invocations of single-workgroup reductions (argmax over the vocabulary).</summary>
    public uint ReductionWorkgroup { get; init; } = 256;

    /// <summary>Route each token with one subgroup (GPUs: the reads and picks split across lanes) rather than one
    /// invocation (lavapipe, where the subgroup version measured 3x slower: 0.31 vs 0.09 ms per layer).</summary>
    public bool RouteSplit { get; init; } = true;

    /// <summary>Stage x in shared memory (GPUs, where lanes read different parts of x) rather than reading the uniform buffer.</summary>
    public bool MatVecSharedX { get; init; }

    /// <summary>Shapes for an estimate made before a device is chosen: the defaults, as a GPU runs them (at most 64
    /// attention splits, no loop budget).</summary>
    public static DeviceTuning BeforeDevice { get; } = new()
    {
        Row = "before a device", ElementwiseWorkgroup = 256, NormWorkgroup = 256, MatVecWorkgroup = 256, MatVecRows = 4,
    };

    /// <summary>Loop iterations lavapipe runs in one invocation before it silently ends the shader's loops
    /// (llvmpipe's LP_MAX_TGSI_LOOP_ITERATIONS).</summary>
    public const uint LavapipeLoopBudget = 65535;

    /// <summary>The environment variable that forces a row of the table (cpu, nvidia, amd, intel) on any device: to run
    /// one vendor's kernel shapes elsewhere (tests, <c>hyvk selftest</c>), or to try another row on a new GPU.</summary>
    public const string RowVariable = "HYVK_TUNING";

    /// <summary>
    /// Whether <paramref name="device"/> can run a matvec whose rows are split across <paramref name="lanes"/>
    /// invocations summed with subgroupAdd: it needs full subgroups of exactly that size, either the device's fixed
    /// size or one it can be asked for (subgroup size control for compute). Checked before any weight is uploaded.
    /// </summary>
    public static bool SplitsRows(DeviceInfo device, uint lanes)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (lanes <= 1)
        {
            return true;
        }

        bool fixedSize = device.MinSubgroupSize == device.MaxSubgroupSize && device.SubgroupSize == lanes;
        bool chosen = device.Features.SubgroupSizeControl && lanes >= device.MinSubgroupSize && lanes <= device.MaxSubgroupSize;
        return device.Features.ComputeFullSubgroups && (fixedSize || chosen);
    }

    /// <summary>The lanes of Intel's split kernels: 16 where subgroup size control allows it (else the nearest size the
    /// device runs, its smallest when that is above 16), the device's fixed size otherwise.</summary>
    public static uint IntelLanes(DeviceInfo device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return device.Features.SubgroupSizeControl && device.MinSubgroupSize > 0
            ? Math.Clamp(16u, device.MinSubgroupSize, Math.Max(device.MinSubgroupSize, device.MaxSubgroupSize))
            : Math.Max(device.SubgroupSize, 1);
    }

    /// <summary>The subgroup size a pipeline whose reductions span <paramref name="lanes"/> invocations must require
    /// (0: none to require, the device's size is fixed or lanes is 1); throws, naming <paramref name="kernel"/>, where
    /// the device cannot guarantee such subgroups (<see cref="SplitsRows"/>).</summary>
    public static uint RequiredSubgroupSize(DeviceInfo device, uint lanes, string kernel)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!SplitsRows(device, lanes))
        {
            throw new NotSupportedException($"{kernel} needs full subgroups of {lanes} on {device.Name}, which it cannot guarantee");
        }

        return lanes <= 1 || device.MinSubgroupSize == device.MaxSubgroupSize ? 0 : lanes;
    }

    /// <summary>The table's rows, by the name <see cref="RowVariable"/> takes.</summary>
    public static IReadOnlyList<string> Rows { get; } = ["cpu", "nvidia", "amd", "intel"];

    /// <summary>The row a device gets: <paramref name="row"/> if given, else <see cref="RowVariable"/>, else the
    /// device's own (its type, then its vendor).</summary>
    public static string RowFor(DeviceInfo device, string? row = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        row ??= Environment.GetEnvironmentVariable(RowVariable);
        if (!string.IsNullOrEmpty(row))
        {
            return Rows.Contains(row.ToLowerInvariant()) ? row.ToLowerInvariant()
                : throw new ArgumentException($"{RowVariable}={row}: not a tuning row; one of {string.Join(", ", Rows)}");
        }

        return OwnRow(device);
    }

    /// <summary>The row of the device's own kind: its type (a CPU device), else its vendor.</summary>
    public static string OwnRow(DeviceInfo device)
    {
        ArgumentNullException.ThrowIfNull(device);
        return (device.Type, device.Vendor) switch
        {
            ("cpu", _) => "cpu",
            (_, "NVIDIA") => "nvidia",
            (_, "AMD") => "amd",
            _ => "intel",
        };
    }

    /// <summary>The shapes for <paramref name="device"/> from the row <see cref="RowFor"/> picks, sized by the device's
    /// subgroup and clamped to its limits.</summary>
    public static DeviceTuning For(DeviceInfo device, string? row = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        uint subgroup = Math.Max(device.SubgroupSize, 1);
        // A workgroup is 1-D here: its size is bounded by both the invocation count and the x dimension.
        uint maxInvocations = Math.Min(device.Limits.MaxComputeWorkGroupInvocations,
            device.Limits.MaxComputeWorkGroupSize.Count > 0 ? device.Limits.MaxComputeWorkGroupSize[0] : uint.MaxValue);
        DeviceTuning t = RowFor(device, row) switch
        {
            // lavapipe: one subgroup per workgroup, each invocation walks 16 whole rows so every x block loaded serves 16
            // rows. Measured on 2 cores, Q4 4096x4096: 4 rows 1.9 ms, 8 rows 1.5 ms, 16 rows 1.35 ms, 32 rows 1.29 ms.
            "cpu" => new()
            {
                Row = "cpu", ElementwiseWorkgroup = 64, NormWorkgroup = subgroup, MatVecWorkgroup = subgroup, MatVecRows = 16,
                AttentionWorkgroup = subgroup, ReductionWorkgroup = subgroup, AttentionMaxSplits = 16,
                // Attention scores with the subgroup across a K row, its queries in registers: at 32K positions 3x faster
                // here than an invocation per position reading the queries from shared memory.
                AttentionLanes = subgroup,
                // Prefill, Q4 4096x4096 x 64 tokens: 32 rows x 8 tokens with x read directly 46 ms (16 rows: 59-100 ms,
                // 48 rows: registers spill, 770 ms; x staged in shared memory: 57-105 ms).
                MatMulWorkgroup = subgroup, MatMulRows = 32, MatMulTokens = 8, MatMulSharedX = false, RouteSplit = false,
            },
            // GPUs (not yet measured on one): matvec with a subgroup per 4 rows, its lanes loading a row's 16-byte texels
            // side by side, 8 subgroups per workgroup = 32 rows sharing one staging of x in shared memory; attention scores
            // with a subgroup per position across the head dimension, and at least 16 splits per kv head (8 kv heads x 16
            // = 128 workgroups even at short context); prefill tiles of 128 rows x 16 tokens whose weights the workgroup
            // stages coalesced (16 KiB of shared memory at Q4, 18 at F32: within every device's 32 KiB).
            "nvidia" => new()
            {
                Row = "nvidia", ElementwiseWorkgroup = 256, NormWorkgroup = 256, MatVecWorkgroup = 8 * subgroup, MatVecRows = 4, MatVecLanes = subgroup,
                MatVecSharedX = true, AttentionWorkgroup = 4 * subgroup, AttentionLanes = subgroup, AttentionMinSplits = 16,
                MatMulWorkgroup = 64, MatMulRows = 2, MatMulTokens = 16, MatMulTileW = true,
            },
            "amd" => new()
            {
                Row = "amd", ElementwiseWorkgroup = 256, NormWorkgroup = 256, MatVecWorkgroup = 8 * subgroup, MatVecRows = 4, MatVecLanes = subgroup,
                MatVecSharedX = true, AttentionWorkgroup = 4 * subgroup, AttentionLanes = subgroup, AttentionMinSplits = 16,
                MatMulWorkgroup = 64, MatMulRows = 2, MatMulTokens = 16, MatMulTileW = true,
            },
            // Intel: the lanes SIMD16, where the device can run it, whatever subgroup size it reports (32 on recent
            // drivers): a SIMD32 thread has half the registers per invocation, fewer than Q4's per-lane block arrays
            // need before Xe2, so the split kernels would spill. A device that cannot run 16 keeps the size it has.
            _ => new()
            {
                Row = "intel", ElementwiseWorkgroup = 256, NormWorkgroup = 128, MatVecWorkgroup = 8 * IntelLanes(device), MatVecRows = 4,
                MatVecLanes = IntelLanes(device), MatVecSharedX = true, AttentionWorkgroup = 4 * IntelLanes(device), AttentionLanes = IntelLanes(device),
                AttentionMinSplits = 16, MatMulWorkgroup = 64, MatMulRows = 2, MatMulTokens = 16, MatMulTileW = true,
            },
        };
        if (!SplitsRows(device, t.MatVecLanes))
        {
            t = t with { MatVecLanes = 1, MatVecRows = 4 };   // the one-lane shape: each invocation walks whole rows
        }

        if (!SplitsRows(device, t.AttentionLanes))
        {
            t = t with { AttentionLanes = 1 };
        }

        // The router's split path is one subgroup of the device's largest size per token: where nothing guarantees that
        // (no full subgroups, or sizes that vary without size control), one invocation per token instead.
        if (t.RouteSplit && !SplitsRows(device, Math.Max(device.MaxSubgroupSize, 1)))
        {
            t = t with { RouteSplit = false };
        }

        if (device.Type == "cpu")
        {
            // A property of the device, not of the row: lavapipe (llvmpipe) runs 65535 loop iterations per invocation,
            // whichever row's shapes it runs (HYVK_TUNING=nvidia in the kernel sweeps too).
            t = t with { AttentionLoopBudget = LavapipeLoopBudget };
        }

        return t with
        {
            ElementwiseWorkgroup = Math.Min(t.ElementwiseWorkgroup, maxInvocations),
            AttentionWorkgroup = Math.Min(t.AttentionWorkgroup, maxInvocations),
            MatMulWorkgroup = Math.Min(t.MatMulWorkgroup, maxInvocations),
            ReductionWorkgroup = Math.Min(t.ReductionWorkgroup, maxInvocations),
            NormWorkgroup = Math.Min(t.NormWorkgroup, maxInvocations),
            MatVecWorkgroup = Math.Min(t.MatVecWorkgroup, maxInvocations),
        };
    }
}
