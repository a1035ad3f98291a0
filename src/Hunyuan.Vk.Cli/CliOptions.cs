using System.CommandLine;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Cli;

/// <summary>Options shared by several commands.</summary>
internal static class CliOptions
{
    public static Option<int?> Device() => new("--device")
    {
        Description = "Vulkan device index from 'hyvk devices' (default: HYVK_DEVICE, else the best: discrete, integrated, CPU)",
    };

    public static Option<bool> Json() => new("--json")
    {
        Description = "Print JSON for machines instead of text for people",
    };

    public static Option<string?> Weights() => new Option<string?>("--weights")
    {
        Description = "Device weight format: f32, f16, q8, q4 (default: q4; GPTQ checkpoints stay int4)",
    }.AcceptOnlyFromAmong("f32", "f16", "q8", "q4");

    /// <summary>The device format for --weights; by default Q4, or Q4Z (as stored) for a GPTQ-Int4 checkpoint.</summary>
    public static WeightFormat WeightFormatFor(string? weights, string modelDirectory) =>
        ParseWeights(weights) ?? WeightFormats.DefaultFor(HunyuanConfig.Load(modelDirectory));

    /// <summary>The format a --weights value names, or null when none was given.</summary>
    public static WeightFormat? ParseWeights(string? weights) => weights switch
    {
        "f32" => WeightFormat.F32,
        "f16" => WeightFormat.F16,
        "q8" => WeightFormat.Q8,
        "q4" => WeightFormat.Q4,
        _ => null,
    };
}
