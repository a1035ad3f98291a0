using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Cli.Commands;

/// <summary><c>hyvk devices</c>: every Vulkan device with what the engine needs to know about it.</summary>
internal static class DevicesCommand
{
    private static readonly JsonSerializerOptions s_json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static Command Create()
    {
        Option<bool> json = CliOptions.Json();
        Option<int?> device = CliOptions.Device();
        var command = new Command("devices", "List the Vulkan devices: name, vendor, type, driver, memory, subgroup size, features and limits");
        command.Options.Add(json);
        command.Options.Add(device);
        command.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(json), parse.GetValue(device), Console.Out)));
        return command;
    }

    /// <param name="json">JSON instead of text.</param>
    /// <param name="device">The device to mark as selected (checked like <c>--device</c> of the model commands).</param>
    /// <param name="output">Where to write.</param>
    public static int Run(bool json, int? device, TextWriter output)
    {
        using var instance = new VulkanInstance();
        IReadOnlyList<DeviceInfo> devices = instance.Devices;
        DeviceInfo? chosen = devices.Count == 0 ? null : DeviceSelector.Select(devices, device);
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new { selected = chosen?.Index, devices }, s_json));
            return 0;
        }

        if (devices.Count == 0)
        {
            output.WriteLine("No Vulkan devices. Install a GPU driver, or 'apt-get install mesa-vulkan-drivers' for the CPU device.");
            return 1;
        }

        foreach (DeviceInfo d in devices)
        {
            Write(output, d, d.Index == chosen?.Index);
        }

        return 0;
    }

    private static void Write(TextWriter o, DeviceInfo d, bool selected)
    {
        o.WriteLine(FormattableString.Invariant($"[{d.Index}] {d.Name}{(selected ? "   <- selected" : string.Empty)}"));
        o.WriteLine(FormattableString.Invariant($"    vendor     {d.Vendor} (0x{d.VendorId:X4}), device 0x{d.DeviceId:X4}, type {d.Type}"));
        o.WriteLine(FormattableString.Invariant($"    driver     {d.Driver} {d.DriverInfo}, Vulkan {d.ApiVersion}"));
        string heaps = string.Join(", ", d.MemoryHeaps.Select(h => $"{Gib(h.Size)}{(h.DeviceLocal ? " device-local" : " host")}"));
        o.WriteLine(FormattableString.Invariant($"    memory     {heaps}{(d.UnifiedMemory ? " (unified: host-visible device memory)" : string.Empty)}"));
        o.WriteLine(FormattableString.Invariant($"    subgroup   {d.SubgroupSize} (range {d.MinSubgroupSize}-{d.MaxSubgroupSize})"));
        DeviceFeatures f = d.Features;
        var features = new (string Name, bool On)[]
        {
            ("fp16", f.ShaderFloat16), ("int8", f.ShaderInt8), ("int16", f.ShaderInt16), ("int64", f.ShaderInt64), ("fp64", f.ShaderFloat64),
            ("16bit-storage", f.Storage16Bit), ("8bit-storage", f.Storage8Bit), ("int-dot", f.IntegerDotProduct),
            ("buffer-device-address", f.BufferDeviceAddress), ("subgroup-size-control", f.SubgroupSizeControl),
            ("subgroup-arithmetic", f.SubgroupArithmetic), ("subgroup-shuffle", f.SubgroupShuffle), ("scalar-layout", f.ScalarBlockLayout),
            ("cooperative-matrix", f.CooperativeMatrix), ("timestamps", f.Timestamps),
        };
        o.WriteLine(FormattableString.Invariant($"    features   {string.Join(' ', features.Where(x => x.On).Select(x => x.Name))}"));
        string missing = string.Join(' ', features.Where(x => !x.On).Select(x => x.Name));
        o.WriteLine(FormattableString.Invariant($"    lacks      {(missing.Length == 0 ? "-" : missing)}"));
        DeviceLimits l = d.Limits;
        o.WriteLine(FormattableString.Invariant($"    limits     storage range {Mib(l.MaxStorageBufferRange)}, uniform range {l.MaxUniformBufferRange / 1024} KiB, ")
            + FormattableString.Invariant($"shared {l.MaxComputeSharedMemory / 1024} KiB, push constants {l.MaxPushConstantsSize} B, workgroup {l.MaxComputeWorkGroupInvocations}, ")
            + FormattableString.Invariant($"allocation {Gib(l.MaxMemoryAllocationSize)}"));
        o.WriteLine(FormattableString.Invariant($"    engine     {d.Unsupported ?? "supported"}"));
    }

    private static string Gib(ulong bytes) => (bytes / (1024.0 * 1024 * 1024)).ToString("0.##", CultureInfo.InvariantCulture) + " GiB";

    private static string Mib(ulong bytes) => (bytes / (1024.0 * 1024)).ToString("0.#", CultureInfo.InvariantCulture) + " MiB";
}
