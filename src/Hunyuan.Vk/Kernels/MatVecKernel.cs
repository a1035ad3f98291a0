using System.Runtime.InteropServices;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/include/matvec.glsl.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct MatVecPush(uint Rows, uint Cols, uint WOffset, uint SOffset, uint YOffset, uint Accumulate, uint WStride, uint SStride, uint FirstExpert, uint Experts,
    uint RouteExperts = 0, uint TopK = 0, uint SharedExperts = 0, uint NormTopK = 0, float Scaling = 0);

/// <summary>What a matrix-vector kernel computes (shaders/include/matvec.glsl).</summary>
internal enum MatVecMode
{
    /// <summary>y (+)= W x.</summary>
    Plain,

    /// <summary>MoE gate/up for each routing slot (grid y): act[slot][i] = silu(gate_i x) * (up_i x), rows interleaving gate and up.</summary>
    GateUp,

    /// <summary>MoE down for each routing slot: partial[slot] = W_expert act[slot]; <see cref="MoeCombineKernel"/> sums them.</summary>
    Down,
}

/// <summary>
/// <c>y = W x</c> (or <c>y += W x</c>) for one weight format (shaders/include/matvec.glsl, per format and mode):
/// W a <see cref="DeviceMatrix"/>, x in a uniform buffer (at most <see cref="ShaderLimits.MaxCols"/> floats; a storage buffer for
/// <see cref="MatVecMode.Down"/>), y in a storage buffer. Decode's main kernel.
/// </summary>
internal sealed class MatVecKernel : Kernel<MatVecPush>
{
    private readonly uint _rowsPerGroup;

    /// <summary>Builds the kernel for <paramref name="format"/>, <paramref name="cols"/> inputs and <paramref name="mode"/>.
    /// <paramref name="routes"/>, GateUp only: the kernel routes the token itself from the router logits (decode's gating
    /// in the product, no moe_route pass); needs the subgroup-split rows (<see cref="DeviceTuning.RoutesInGateUp"/>).</summary>
    public MatVecKernel(GpuContext context, DeviceTuning tuning, WeightFormat format, uint cols, MatVecMode mode = MatVecMode.Plain, bool routes = false)
        : base(context, ShaderFor(format, mode), Bindings(format, mode), Specialization(context, tuning, cols, mode, routes), SubgroupFor(context, tuning),
            fullSubgroups: tuning.MatVecLanes > 1, readOnly: mode == MatVecMode.GateUp && !routes ? 1u << RouteBinding(format) : 0)
    {
        Format = format;
        Mode = mode;
        Routes = routes;
        MaxCols = StagesX(tuning, context.Info.Limits, cols) ? cols : (mode == MatVecMode.Down ? uint.MaxValue : ShaderLimits.MaxCols);
        _rowsPerGroup = tuning.MatVecRows * (tuning.MatVecWorkgroup / tuning.MatVecLanes);
    }

    // Lanes > 1 sum with subgroupAdd, so a subgroup must be exactly one row group: full subgroups of that size, required
    // where the device lets us choose, else the device's fixed size (DeviceTuning.SplitsRows says which devices can).
    private static uint SubgroupFor(GpuContext context, DeviceTuning tuning)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(tuning);
        return DeviceTuning.RequiredSubgroupSize(context.Info, tuning.MatVecLanes, "matvec");
    }

    public WeightFormat Format { get; }

    /// <summary>Whether this GateUp kernel routes the token itself (<see cref="RecordRoutedFromLogits"/>).</summary>
    public bool Routes { get; }

    // The routing buffer's binding: after the weight tables, x and y.
    private static int RouteBinding(WeightFormat format) => DeviceMatrix.TableBindings(format).Length + 2;

    public MatVecMode Mode { get; }

    /// <summary>The widest input the kernel reads: the cols it was built for when x is staged in shared memory (sized
    /// for them), else what the uniform buffer holds (<see cref="ShaderLimits.MaxCols"/>; unbounded for Down).</summary>
    public uint MaxCols { get; }

    /// <summary>Records y[yOffset + r] (+)= (W_index x)[r] for every row r of matrix <paramref name="index"/> of <paramref name="w"/>.</summary>
    public void Record(CommandRecorder recorder, DeviceMatrix w, BufferRange x, BufferRange y, bool accumulate = false, uint yOffset = 0, int index = 0)
    {
        CheckMatrix(w);
        if (Mode != MatVecMode.Plain)
        {
            throw new InvalidOperationException($"{ShaderLibrary.FileName(Shader)} is a routed kernel: use RecordRouted");
        }

        Require(x, (ulong)w.Cols, 4, "x");
        Require(y, (ulong)yOffset + (ulong)w.Rows, 4, "y");
        (DeviceMatrixPart part, int local) = w.Locate(index);
        var push = new MatVecPush((uint)w.Rows, (uint)w.Cols, (uint)local * w.QuantTexelsPerMatrix, (uint)local * w.ScalesPerMatrix, yOffset, accumulate ? 1u : 0u, 0, 0, 0, 0);
        var list = new ResourceList();
        Dispatch(recorder, Bind(ResourceList.Join(ref list, part.Tables, x, y)), push, DivideUp((ulong)w.Rows, _rowsPerGroup));
        recorder.AddStreamedBytes(w.BytesPerMatrix);
    }

    /// <summary>
    /// Records the routed product for <paramref name="slots"/> routing slots (grid y): slot s uses expert route.ids[s] of the
    /// stack <paramref name="w"/>. GateUp: y[s * rows/2 + i] = silu(g_i) * u_i with x shared by all slots. Down: x holds one
    /// vector per slot; y[s * rows + r] is slot s's partial.
    /// </summary>
    public void RecordRouted(CommandRecorder recorder, DeviceMatrix w, BufferRange x, BufferRange y, BufferRange route, uint slots)
    {
        if (Routes)
        {
            throw new InvalidOperationException($"{ShaderLibrary.FileName(Shader)} was built to route: use RecordRoutedFromLogits");
        }

        RecordRouted(recorder, w, x, y, route, slots, route, default);   // the logits binding is unread: route stands in
    }

    /// <summary>GateUp that routes: each workgroup applies <paramref name="gating"/> to <paramref name="routerLogits"/>
    /// (one token's) and runs its slot's expert; the route is stored in <paramref name="route"/> for the products after.</summary>
    public void RecordRoutedFromLogits(CommandRecorder recorder, DeviceMatrix w, BufferRange x, BufferRange y, BufferRange route, BufferRange routerLogits, MoeGating gating)
    {
        if (!Routes)
        {
            throw new InvalidOperationException($"{ShaderLibrary.FileName(Shader)} reads its routes: use RecordRouted");
        }

        gating.Check();
        Require(routerLogits, (ulong)gating.Experts, 4, "router logits");
        RecordRouted(recorder, w, x, y, route, (uint)gating.Slots, routerLogits, gating);
    }

    private void RecordRouted(CommandRecorder recorder, DeviceMatrix w, BufferRange x, BufferRange y, BufferRange route, uint slots, BufferRange routerLogits, MoeGating gating)
    {
        CheckMatrix(w);
        if (Mode == MatVecMode.Plain)
        {
            throw new InvalidOperationException($"{ShaderLibrary.FileName(Shader)} is not routed: use Record");
        }

        if (Mode == MatVecMode.GateUp && (w.Rows % 2 != 0 || _rowsPerGroup % 2 != 0))
        {
            throw new ArgumentException($"{ShaderLibrary.FileName(Shader)}: gate/up rows ({w.Rows}) and rows per group must be even");
        }

        Require(x, (ulong)w.Cols * (Mode == MatVecMode.Down ? slots : 1), 4, "x");
        Require(y, (ulong)w.Rows * slots / (Mode == MatVecMode.GateUp ? 2u : 1u), 4, "y");
        Require(route, 32, 4, "route");
        foreach (DeviceMatrixPart part in w.Parts)   // a split stack: one dispatch per part, each runs the slots it holds
        {
            var push = new MatVecPush((uint)w.Rows, (uint)w.Cols, 0, 0, 0, 0, w.QuantTexelsPerMatrix, w.ScalesPerMatrix, (uint)part.First, (uint)part.Count,
                (uint)gating.Experts, (uint)gating.TopK, gating.SharedExpert ? 1u : 0u, gating.NormTopK ? 1u : 0u, gating.Scaling);
            var list = new ResourceList();
            DescriptorBinding binding = Mode == MatVecMode.GateUp
                ? Bind(ResourceList.Join(ref list, part.Tables, x, y, route, routerLogits))
                : Bind(ResourceList.Join(ref list, part.Tables, x, y, route));
            Dispatch(recorder, binding, push, DivideUp((ulong)w.Rows, _rowsPerGroup), slots);
        }

        recorder.AddStreamedBytes(Math.Min(slots, (uint)w.Count) * w.BytesPerMatrix);   // the chosen experts only
    }

    private void CheckMatrix(DeviceMatrix w)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.Format != Format)
        {
            throw new ArgumentException($"{ShaderLibrary.FileName(Shader)} reads {Format}; the matrix is {w.Format}");
        }

        if (w.Cols > MaxCols)
        {
            throw new ArgumentException($"{ShaderLibrary.FileName(Shader)} reads at most {MaxCols} cols here; the matrix has {w.Cols}");
        }
    }

    private static ShaderId ShaderFor(WeightFormat format, MatVecMode mode) => ShaderLibrary.For(mode switch
    {
        MatVecMode.Plain => "matvec",
        MatVecMode.GateUp => "moe_gate_up",
        MatVecMode.Down => "moe_down",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    }, format);

    private static BindingKind[] Bindings(WeightFormat format, MatVecMode mode)
    {
        BindingKind x = mode == MatVecMode.Down ? BindingKind.Storage : BindingKind.Uniform;
        BindingKind[] io = mode switch
        {
            MatVecMode.Plain => [x, BindingKind.Storage],
            MatVecMode.GateUp => [x, BindingKind.Storage, BindingKind.Storage, BindingKind.Storage],   // x, y, route, router logits
            _ => [x, BindingKind.Storage, BindingKind.Storage],
        };
        return [.. DeviceMatrix.TableBindings(format), .. io];
    }

    /// <summary>
    /// Whether x is staged in shared memory: where the tuning asks for it and the device's compute shared memory holds
    /// x (cols floats) besides the workgroup's reduction slots; otherwise lanes read x where it is (a GPU with 16 KiB of
    /// shared memory still runs A13B's 4096-wide products, only with uncached x reads).
    /// </summary>
    internal static bool StagesX(DeviceTuning tuning, DeviceLimits limits, uint cols) =>
        tuning.MatVecSharedX && (ulong)cols * 4 + (ulong)tuning.MatVecWorkgroup * 4 <= limits.MaxComputeSharedMemory;

    /// <summary>Throws unless x of <paramref name="cols"/> floats fits the uniform buffer the shader declares
    /// (<see cref="ShaderLimits.MaxCols"/>) and one uniform binding of the device.</summary>
    internal static void CheckUniformX(DeviceLimits limits, uint cols)
    {
        if (cols > ShaderLimits.MaxCols)
        {
            throw new ArgumentOutOfRangeException(nameof(cols), cols, $"matvec reads x from a uniform buffer of at most {ShaderLimits.MaxCols} floats (MAX_COLS, shaders/include/limits.glsl)");
        }

        if ((ulong)cols * 4 > limits.MaxUniformBufferRange)
        {
            throw new ArgumentOutOfRangeException(nameof(cols), cols, $"matvec reads x ({cols * 4} bytes) from a uniform buffer; the device binds at most {limits.MaxUniformBufferRange} bytes (maxUniformBufferRange)");
        }
    }

    private static SpecConstant[] Specialization(GpuContext context, DeviceTuning tuning, uint cols, MatVecMode mode, bool routes)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(tuning);
        if (routes && (mode != MatVecMode.GateUp || tuning.MatVecLanes <= 1))
        {
            throw new ArgumentException($"Only the gate/up product with subgroup-split rows routes (mode {mode}, {tuning.MatVecLanes} lanes)", nameof(routes));
        }

        if (mode != MatVecMode.Down)
        {
            CheckUniformX(context.Info.Limits, cols);
        }

        return
        [
            SpecConstant.FromUInt32(0, tuning.MatVecWorkgroup),
            SpecConstant.FromUInt32(1, tuning.MatVecRows),
            SpecConstant.FromUInt32(2, tuning.MatVecLanes),
            SpecConstant.FromUInt32(3, StagesX(tuning, context.Info.Limits, cols) ? cols / 4 : 0),
            .. (ReadOnlySpan<SpecConstant>)(mode == MatVecMode.GateUp ? [SpecConstant.FromUInt32(4, routes ? 1u : 0u)] : []),
        ];
    }
}
