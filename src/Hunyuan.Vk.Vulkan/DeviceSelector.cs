namespace Hunyuan.Vk.Vulkan;

/// <summary>Picks the device to run on: an explicit index, else a discrete GPU, then integrated, virtual, CPU.</summary>
public static class DeviceSelector
{
    /// <summary>The environment variable that overrides the choice, like <c>--device N</c>.</summary>
    public const string EnvironmentVariable = "HYVK_DEVICE";

    public static DeviceInfo Select(IReadOnlyList<DeviceInfo> devices, int? requested)
    {
        if (devices.Count == 0)
        {
            throw new VulkanException(
                "No Vulkan device found. Install a GPU driver, or Mesa's CPU device with 'apt-get install mesa-vulkan-drivers'.");
        }

        requested ??= FromEnvironment();
        if (requested is int index)
        {
            if (index < 0 || index >= devices.Count)
            {
                throw new VulkanException(
                    $"Device {index} does not exist: there are {devices.Count} Vulkan devices (0..{devices.Count - 1}); 'hyvk devices' lists them.");
            }

            DeviceInfo chosen = devices[index];
            if (chosen.Unsupported is not null)
            {
                throw new VulkanException($"Device {index} ({chosen.Name}) cannot run the engine: {chosen.Unsupported}");
            }

            return chosen;
        }

        DeviceInfo? best = devices.Where(d => d.Unsupported is null).OrderBy(d => Rank(d.Type)).ThenBy(d => d.Index).FirstOrDefault();
        return best ?? throw new VulkanException(
            "No Vulkan device can run the engine: " + string.Join("; ", devices.Select(d => $"{d.Index} {d.Name}: {d.Unsupported}")));
    }

    private static int? FromEnvironment()
    {
        string? value = Environment.GetEnvironmentVariable(EnvironmentVariable);
        // auto, cpu and vulkan choose the executor (the engine reads them); only an index picks a Vulkan device.
        if (string.IsNullOrWhiteSpace(value) || value.Trim().ToLowerInvariant() is "auto" or "cpu" or "vulkan")
        {
            return null;
        }

        return int.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int index)
            ? index
            : throw new VulkanException($"{EnvironmentVariable}='{value}' is not auto, cpu, vulkan or a device index; 'hyvk devices' lists them.");
    }

    private static int Rank(string type) => type switch
    {
        "discrete" => 0,
        "integrated" => 1,
        "virtual" => 2,
        "cpu" => 3,
        _ => 4,
    };
}
