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

    /// <summary>--weights: the names of the formats made from float weights (<see cref="WeightFormatSpec.Name"/>).</summary>
    public static Option<string?> Weights()
    {
        string[] names = [.. WeightFormats.All.Where(f => f.FromFloats).Select(f => f.Name)];
        return new Option<string?>("--weights")
        {
            Description = $"Device weight format: {string.Join(", ", names)} (default: q4; GPTQ checkpoints stay int4)",
        }.AcceptOnlyFromAmong(names);
    }

    /// <summary>The device format for --weights; by default Q4, or Q4Z (as stored) for a GPTQ-Int4 checkpoint.</summary>
    public static WeightFormat WeightFormatFor(string? weights, string modelDirectory) =>
        WeightFormats.Parse(weights) ?? WeightFormats.DefaultFor(HunyuanConfig.Load(modelDirectory));
}
