using System.CommandLine;

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
}
