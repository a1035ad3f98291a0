using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Hunyuan.Vk.Diagnostics;
using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Cli.Commands;

/// <summary><c>hyvk selftest</c>: the device's kernels against the CPU reference; exit 1 on any failure.</summary>
internal static class SelfTestCommand
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "Small shapes only (seconds); by default Hunyuan-A13B's shapes too" };
        Option<bool> json = CliOptions.Json();
        Option<int?> device = CliOptions.Device();
        var command = new Command("selftest",
            "Check every kernel, weight format and mode on the device (with its own tuning; HYVK_TUNING forces a row) against the CPU reference, and the device's subgroups against what it reports");
        command.Options.Add(quick);
        command.Options.Add(json);
        command.Options.Add(device);
        command.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(quick), parse.GetValue(json), parse.GetValue(device))));
        return command;
    }

    private static int Run(bool quick, bool json, int? device)
    {
        using var instance = new VulkanInstance();
        using GpuContext gpu = instance.CreateContext(device);
        DeviceTuning tuning = DeviceTuning.For(gpu.Info);
        Console.Error.WriteLine($"hyvk selftest: {gpu.Info.Name} ({gpu.Info.Driver}), tuning row {tuning.Row}, subgroup {gpu.Info.SubgroupSize}{(quick ? ", quick" : string.Empty)}");
        if (!json)
        {
            Console.Out.WriteLine($"{"kernel",-22} {"shape",-30} {"NMSE",10} {"limit",8} {"ms",9}  result");
        }

        IReadOnlyList<SelfTestCase> cases = SelfTest.Run(gpu, quick, c =>
        {
            if (!json)
            {
                Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{c.Kernel,-22} {c.Shape,-30} {c.Nmse,10:E2} {c.Limit,8:E0} {c.Milliseconds,9:F2}  {(c.Passed ? "ok" : "FAILED" + (c.Error is null ? string.Empty : ": " + c.Error))}"));
            }
        });
        int failed = cases.Count(c => !c.Passed);
        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                device = gpu.Info.Name,
                driver = gpu.Info.Driver,
                tuning = tuning.Row,
                subgroup_size = gpu.Info.SubgroupSize,
                passed = cases.Count - failed,
                failed,
                cases = cases.Select(c => new { c.Kernel, c.Shape, nmse = double.IsFinite(c.Nmse) ? c.Nmse : (double?)null, c.Limit, c.Milliseconds, c.Passed, c.Error }),
            }, s_json));
        }

        Console.Error.WriteLine($"hyvk selftest: {cases.Count - failed} passed, {failed} failed");
        return failed == 0 ? 0 : CliErrors.Failure;
    }
}
