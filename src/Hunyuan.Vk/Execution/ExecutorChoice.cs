using System.Globalization;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// Which executor runs the model: the host's cores (<see cref="HostSession"/>), or a Vulkan device
/// (<see cref="DecodeSession"/>) by index or the best one. <c>--device auto|cpu|vulkan|N</c>, and HYVK_DEVICE the same way.
/// Auto takes the best Vulkan device unless it is a CPU device (lavapipe: its shaders reach a fraction of what the host
/// kernels reach on the same cores and memory) or there is no Vulkan device at all (no loader, no driver); then the host.
/// </summary>
public readonly record struct ExecutorChoice(bool Host, bool Vulkan, int? DeviceIndex)
{
    /// <summary>The host executor.</summary>
    public static ExecutorChoice Cpu => new(true, false, null);

    /// <summary>Chosen when the model loads: see the type.</summary>
    public static ExecutorChoice Auto => default;

    /// <summary>The best Vulkan device (HYVK_DEVICE's index when set), a CPU device included.</summary>
    public static ExecutorChoice BestDevice => new(false, true, null);

    public bool IsAuto => !Host && !Vulkan;

    /// <summary>Vulkan device <paramref name="index"/> ('hyvk devices' lists them).</summary>
    public static ExecutorChoice Device(int index) => new(false, true, index);

    /// <summary>"auto", "cpu", "vulkan" or a device index; null for anything else.</summary>
    public static ExecutorChoice? Parse(string? text) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" or "auto" => Auto,
        "cpu" => Cpu,
        "vulkan" => BestDevice,
        string s when int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int index) => Device(index),
        _ => null,
    };

    public override string ToString() => Host ? "cpu" : !Vulkan ? "auto" : DeviceIndex?.ToString(CultureInfo.InvariantCulture) ?? "vulkan";

    /// <summary>This choice made definite: an explicit one as it is; auto from HYVK_DEVICE when set, else from the
    /// Vulkan devices present. <paramref name="why"/> says why, for the log.</summary>
    public ExecutorChoice Resolve(out string why)
    {
        if (!IsAuto)
        {
            why = Host ? "asked for" : DeviceIndex is int i ? $"Vulkan device {i} asked for" : "a Vulkan device asked for";
            return this;
        }

        string? variable = Environment.GetEnvironmentVariable(DeviceSelector.EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(variable))
        {
            ExecutorChoice chosen = Parse(variable) ?? throw new ArgumentException(
                $"{DeviceSelector.EnvironmentVariable}='{variable}' is not auto, cpu, vulkan or a device index; 'hyvk devices' lists them.");
            if (!chosen.IsAuto)
            {
                why = $"{DeviceSelector.EnvironmentVariable}={variable}";
                return chosen;
            }
        }

        DeviceInfo best;
        try
        {
            using var instance = new VulkanInstance(validation: false);
            best = DeviceSelector.Select(instance.Devices, requested: null);
        }
        catch (Exception e) when (e is VulkanException or DllNotFoundException)
        {
            why = $"no Vulkan device ({e.Message.Split('\n')[0].TrimEnd('.')})";
            return Cpu;
        }

        if (best.Type == "cpu")
        {
            why = $"the best Vulkan device, {best.Name}, is a CPU device; --device {best.Index} runs it instead";
            return Cpu;
        }

        why = $"the best Vulkan device, {best.Name} ({best.Type})";
        return Device(best.Index);
    }
}
