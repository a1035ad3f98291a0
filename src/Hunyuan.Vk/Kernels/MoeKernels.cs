using System.Runtime.InteropServices;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>Push constants of shaders/moe_route.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct MoeRoutePush(uint Experts, uint TopK, uint SharedExperts, uint NormTopK, float Scaling, uint LogitsOffset);

/// <summary>Push constants of shaders/moe_combine.comp.</summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct MoeCombinePush(uint N, uint Slots);

/// <summary>
/// The routing buffer every MoE kernel reads: <c>uint ids[16]; float weights[16];</c> (128 bytes). Slots 0..k-1 are the
/// chosen experts, slot k the shared expert (id = expert count, weight 1).
/// </summary>
public static class MoeRoute
{
    public const int Capacity = 16;
    public const ulong Bytes = Capacity * 8;
}

/// <summary>Softmax -> top-k -> renormalise over the router logits, on the GPU (shaders/moe_route.comp).</summary>
public sealed class MoeRouteKernel : Kernel<MoeRoutePush>
{
    public MoeRouteKernel(GpuContext context)
        : base(context, ShaderId.MoeRoute, [BindingKind.Storage, BindingKind.Storage], [])
    {
    }

    public void Record(CommandRecorder recorder, BufferRange logits, BufferRange route, int experts, int topK, bool sharedExpert, bool normTopK, float scaling)
    {
        if (experts > 64 || topK < 1 || topK + (sharedExpert ? 1 : 0) > MoeRoute.Capacity || topK > experts)
        {
            throw new ArgumentOutOfRangeException(nameof(topK), $"moe_route handles up to 64 experts and {MoeRoute.Capacity} slots; got {experts} experts, top {topK}");
        }

        Require(logits, (ulong)experts, 4, "logits");
        Require(route, MoeRoute.Capacity * 2, 4, "route");
        var push = new MoeRoutePush((uint)experts, (uint)topK, sharedExpert ? 1u : 0u, normTopK ? 1u : 0u, scaling, 0);
        Dispatch(recorder, Bind(logits, route), push, 1);
    }
}

/// <summary>h += sum over slots of route weight * partial[slot] (shaders/moe_combine.comp).</summary>
public sealed class MoeCombineKernel : Kernel<MoeCombinePush>
{
    private readonly uint _workgroup;

    public MoeCombineKernel(GpuContext context, DeviceTuning tuning)
        : base(context, ShaderId.MoeCombine, [BindingKind.Storage, BindingKind.Storage, BindingKind.Storage],
            [SpecConstant.FromUInt32(0, tuning?.ElementwiseWorkgroup ?? 0)])
    {
        _workgroup = tuning!.ElementwiseWorkgroup;
    }

    public void Record(CommandRecorder recorder, BufferRange partials, BufferRange route, BufferRange h, uint n, uint slots)
    {
        Require(partials, (ulong)n * slots, 4, "partials");
        Require(route, MoeRoute.Capacity * 2, 4, "route");
        Require(h, n, 4, "h");
        Dispatch(recorder, Bind(partials, route, h), new MoeCombinePush(n, slots), Math.Min(DivideUp(n, _workgroup), 65535u));
    }
}
