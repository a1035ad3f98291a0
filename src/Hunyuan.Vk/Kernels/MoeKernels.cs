using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/moe_route.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct MoeRoutePush(uint Experts, uint TopK, uint SharedExperts, uint NormTopK, float Scaling);

/// <summary>Push constants of shaders/moe_combine.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct MoeCombinePush(uint N, uint Slots, uint FirstSlot, float Eps);

/// <summary>
/// The routing buffer every MoE kernel reads: <c>struct Route</c> of shaders/include/limits.glsl, ids then weights of
/// <see cref="Capacity"/> slots each. Slots 0..k-1 are the chosen experts, slot k the shared expert (id = expert
/// count, weight 1).
/// </summary>
internal static class MoeRoute
{
    public const int Capacity = ShaderLimits.MaxRouteSlots;
    public const ulong Bytes = Capacity * 8;
}

/// <summary>The MoE gating of shaders/include/routing.glsl, which moe_route and decode's gate/up product apply: softmax
/// over <paramref name="Experts"/> router logits, top <paramref name="TopK"/>, renormalised when
/// <paramref name="NormTopK"/>, times <paramref name="Scaling"/>; the shared expert as the slot after them when
/// <paramref name="SharedExpert"/>.</summary>
internal readonly record struct MoeGating(int Experts, int TopK, bool SharedExpert, bool NormTopK, float Scaling)
{
    /// <summary>Routing slots a token gets: the top k, then the shared expert.</summary>
    public int Slots => TopK + (SharedExpert ? 1 : 0);

    /// <summary>Throws unless the shaders can route this (at most <see cref="ShaderLimits.MaxExperts"/> experts and
    /// <see cref="MoeRoute.Capacity"/> slots).</summary>
    public void Check()
    {
        if (Experts > ShaderLimits.MaxExperts || TopK < 1 || TopK > Experts || Slots > MoeRoute.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(TopK), this, $"routing handles up to {ShaderLimits.MaxExperts} experts and {MoeRoute.Capacity} slots");
        }
    }
}

/// <summary>Softmax -> top-k -> renormalise over the router logits, on the GPU (shaders/moe_route.comp): one subgroup
/// per token (a workgroup of the device's largest subgroup size, full subgroups of that size required), or with
/// <see cref="DeviceTuning.RouteSplit"/> off one invocation per token.</summary>
internal sealed class MoeRouteKernel : Kernel<MoeRoutePush>
{
    public MoeRouteKernel(GpuContext context, DeviceTuning tuning)
        : base(context, ShaderId.MoeRoute, [BindingKind.Storage, BindingKind.Storage],
            [SpecConstant.FromUInt32(0, Workgroup(context, tuning)), SpecConstant.FromUInt32(1, Tuned(tuning).RouteSplit ? 1u : 0u)],
            tuning.RouteSplit ? DeviceTuning.RequiredSubgroupSize(context.Info, Workgroup(context, tuning), "moe_route") : 0, fullSubgroups: tuning.RouteSplit)
    {
    }

    private static uint Workgroup(GpuContext context, DeviceTuning tuning)
    {
        ArgumentNullException.ThrowIfNull(context);
        return Tuned(tuning).RouteSplit ? Math.Max(context.Info.MaxSubgroupSize, 1) : 1;
    }

    public void Record(CommandRecorder recorder, BufferRange logits, BufferRange route, MoeGating gating, uint tokens = 1)
    {
        gating.Check();
        Require(logits, (ulong)gating.Experts * tokens, 4, "logits");
        Require(route, MoeRoute.Capacity * 2UL * tokens, 4, "route");
        var push = new MoeRoutePush((uint)gating.Experts, (uint)gating.TopK, gating.SharedExpert ? 1u : 0u, gating.NormTopK ? 1u : 0u, gating.Scaling);
        Dispatch(recorder, Bind(logits, route), push, tokens);
    }
}

/// <summary>Push constants of shaders/moe_group.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct MoeGroupPush(uint Tokens, uint Slots, uint Experts);

/// <summary>Push constants of shaders/moe_scatter.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
internal readonly record struct MoeScatterPush(uint Hidden, uint Slots, uint FirstSlot);

/// <summary>
/// Prefill MoE grouping (shaders/moe_group.comp): per expert, how many of the batch's (token, slot) assignments it has
/// and where its list starts; per list entry, the token; per (token, slot), the entry.
/// </summary>
internal sealed class MoeGroupKernel : Kernel<MoeGroupPush>
{
    /// <summary>uints of the group buffer: a count, then an offset, per expert group.</summary>
    public const ulong GroupUints = 2 * ShaderLimits.MaxExpertGroups;

    public MoeGroupKernel(GpuContext context)
        : base(context, ShaderId.MoeGroup, [.. Enumerable.Repeat(BindingKind.Storage, 4)], [])
    {
    }

    public void Record(CommandRecorder recorder, BufferRange routes, BufferRange group, BufferRange entryToken, BufferRange entryOf, uint tokens, uint slots, uint experts)
    {
        if (experts > ShaderLimits.MaxExpertGroups || slots > MoeRoute.Capacity)
        {
            throw new ArgumentOutOfRangeException(nameof(experts), $"moe_group handles up to {ShaderLimits.MaxExpertGroups} expert groups and {MoeRoute.Capacity} slots; got {experts} and {slots}");
        }

        Require(routes, MoeRoute.Capacity * 2UL * tokens, 4, "routes");
        Require(group, GroupUints, 4, "group");
        Require(entryToken, (ulong)tokens * slots, 4, "entry_token");
        Require(entryOf, (ulong)tokens * slots, 4, "entry_of");
        Dispatch(recorder, Bind(routes, group, entryToken, entryOf), new MoeGroupPush(tokens, slots, experts), 1);
    }
}

/// <summary>Prefill MoE: h[t] += sum over slots of weight * partial[entry] (shaders/moe_scatter.comp).</summary>
internal sealed class MoeScatterKernel : Kernel<MoeScatterPush>
{
    private readonly uint _workgroup;

    public MoeScatterKernel(GpuContext context, DeviceTuning tuning)
        : base(context, ShaderId.MoeScatter, [.. Enumerable.Repeat(BindingKind.Storage, 4)], [SpecConstant.FromUInt32(0, Tuned(tuning).ElementwiseWorkgroup)])
    {
        _workgroup = tuning.ElementwiseWorkgroup;
    }

    /// <summary>Slots from <paramref name="firstSlot"/> are summed (the earlier ones run elsewhere).</summary>
    public void Record(CommandRecorder recorder, BufferRange partials, BufferRange routes, BufferRange entryOf, BufferRange h, uint hidden, uint tokens, uint slots, uint firstSlot = 0)
    {
        Require(partials, (ulong)hidden * tokens * slots, 4, "partials");
        Require(h, (ulong)hidden * tokens, 4, "h");
        Dispatch(recorder, Bind(partials, routes, entryOf, h), new MoeScatterPush(hidden, slots, firstSlot), DivideUp(hidden, _workgroup), tokens);
    }
}

/// <summary>
/// h += the slots' weighted partials (shaders/moe_combine.comp). Built with <c>norm</c>, it also writes x =
/// rmsnorm(h) * w, the norm that comes next (the next layer's input norm, or the final norm), in one workgroup: decode's
/// layer then ends with x ready and the next one starts at its product.
/// </summary>
internal sealed class MoeCombineKernel : Kernel<MoeCombinePush>
{
    private readonly uint _workgroup;

    public MoeCombineKernel(GpuContext context, DeviceTuning tuning, bool norm = false)
        : base(context, ShaderId.MoeCombine, [.. Enumerable.Repeat(BindingKind.Storage, 5)],
            [SpecConstant.FromUInt32(0, Workgroup(tuning, norm)), SpecConstant.FromUInt32(1, norm ? 1u : 0u)])
    {
        _workgroup = Workgroup(tuning, norm);
        Norm = norm;
    }

    private static uint Workgroup(DeviceTuning tuning, bool norm) => norm ? Tuned(tuning).NormWorkgroup : Tuned(tuning).ElementwiseWorkgroup;

    /// <summary>Whether the kernel also writes the next norm.</summary>
    public bool Norm { get; }

    /// <summary>Slots from <paramref name="firstSlot"/> are summed (the earlier ones run elsewhere).</summary>
    public void Record(CommandRecorder recorder, BufferRange partials, BufferRange route, BufferRange h, uint n, uint slots, uint firstSlot = 0)
    {
        if (Norm)
        {
            throw new InvalidOperationException("moe_combine was built to norm: use RecordNormed");
        }

        Check(partials, route, h, n, slots);
        Dispatch(recorder, Bind(partials, route, h, h, h), new MoeCombinePush(n, slots, firstSlot, 0f), Math.Min(DivideUp(n, _workgroup), 65535u));   // h stands in for the unused w and x
    }

    /// <summary>h += every slot's weighted partial, then x = rmsnorm(h) * <paramref name="weight"/>.</summary>
    public void RecordNormed(CommandRecorder recorder, BufferRange partials, BufferRange route, BufferRange h, uint n, uint slots, BufferRange weight, BufferRange x, float eps)
    {
        if (!Norm)
        {
            throw new InvalidOperationException("moe_combine was built without the norm: use Record");
        }

        Check(partials, route, h, n, slots);
        Require(weight, n, 4, "weight");
        Require(x, n, 4, "x");
        Dispatch(recorder, Bind(partials, route, h, weight, x), new MoeCombinePush(n, slots, 0, eps), 1);
    }

    private void Check(BufferRange partials, BufferRange route, BufferRange h, uint n, uint slots)
    {
        Require(partials, (ulong)n * slots, 4, "partials");
        Require(route, MoeRoute.Capacity * 2, 4, "route");
        Require(h, n, 4, "h");
    }
}
