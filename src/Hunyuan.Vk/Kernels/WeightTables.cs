using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>How the kernels view a weight format's tables (shaders/include/weights.glsl): the quants as 16-byte texels
/// (f32 as four floats, every other format as four uints), then the f16 scales, then the u8 zero points.</summary>
internal static class WeightTables
{
    /// <summary>The texel views a matrix of <paramref name="spec"/> is bound as, in shader order.</summary>
    public static IReadOnlyList<TexelFormat> Tables(this WeightFormatSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        TexelFormat quants = spec.Format == WeightFormat.F32 ? TexelFormat.Rgba32Float : TexelFormat.Rgba32Uint;
        return (spec.HasScales, spec.HasZeros) switch
        {
            (false, _) => [quants],
            (true, false) => [quants, TexelFormat.R16Float],
            (true, true) => [quants, TexelFormat.R16Float, TexelFormat.R8Uint],
        };
    }
}
