using System.Globalization;

namespace Hunyuan.Vk.Vulkan;

/// <summary>
/// Faults made on purpose, to test what a user sees when a device runs out of memory or is lost: from
/// <c>HYVK_FAULTS</c> (a comma-separated list of <c>oom-device:N</c>, <c>oom-host:N</c>, <c>lost:N</c>) when a
/// context is made. The N-th memory allocation of the context then fails with VK_ERROR_OUT_OF_DEVICE_MEMORY or
/// VK_ERROR_OUT_OF_HOST_MEMORY instead of being made, or the N-th wait for a whole submit (its fence) reports
/// VK_ERROR_DEVICE_LOST, after really waiting, so the device is idle as a lost one is. Counting starts at 1; unset means none.
/// </summary>
public sealed record DeviceFaults
{
    public const string EnvironmentVariable = "HYVK_FAULTS";

    public long? OutOfDeviceMemoryAt { get; init; }
    public long? OutOfHostMemoryAt { get; init; }
    public long? LostAtWait { get; init; }

    /// <summary>The faults <c>HYVK_FAULTS</c> asks for, or null when it is unset or empty.</summary>
    public static DeviceFaults? FromEnvironment() => Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    public static DeviceFaults? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        var faults = new DeviceFaults();
        foreach (string item in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            string[] parts = item.Split(':');
            if (parts.Length != 2 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long n) || n < 1)
            {
                throw new VulkanException($"{EnvironmentVariable}='{text}': '{item}' is not KIND:N with N from 1 (kinds: oom-device, oom-host, lost)");
            }

            faults = parts[0] switch
            {
                "oom-device" => faults with { OutOfDeviceMemoryAt = n },
                "oom-host" => faults with { OutOfHostMemoryAt = n },
                "lost" => faults with { LostAtWait = n },
                _ => throw new VulkanException($"{EnvironmentVariable}='{text}': unknown fault '{parts[0]}' (kinds: oom-device, oom-host, lost)"),
            };
        }

        return faults;
    }
}
