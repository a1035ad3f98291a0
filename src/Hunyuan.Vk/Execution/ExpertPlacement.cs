using System.Globalization;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>
/// Where each layer's routed experts live: on the device, or in host memory computed on the CPU (the first
/// <see cref="HostLayers"/> layers, as llama.cpp's <c>--n-cpu-moe</c>). Attention, norms, router, shared experts,
/// embedding and lm_head are always on the device. Chosen from the config alone, before any weight is read, so a
/// placement that cannot fit is refused with both numbers.
/// </summary>
/// <param name="HostLayers">Layers whose routed experts are on the host.</param>
/// <param name="Estimate">Device and host bytes of this placement.</param>
/// <param name="DeviceBudget">Device bytes the placement may use.</param>
/// <param name="HostAvailable">Host memory available for the experts (and, on a CPU device, for the device's part too).</param>
/// <param name="Why">How the placement was chosen.</param>
/// <param name="SharedOnHost">Whether the host layers' shared experts are on the host too: on a CPU device, whose
/// shaders are slower than the host kernels on the same memory and would only share the cores with them.</param>
public sealed record ExpertPlacement(int HostLayers, MemoryEstimate Estimate, long DeviceBudget, long HostAvailable, string Why, bool SharedOnHost = false)
{
    /// <summary>A request for every layer on the host (<c>--host-experts all</c>).</summary>
    public const int All = int.MaxValue;

    public bool OnHost(int layer) => layer < HostLayers;

    /// <summary>Whether the host kernels run <paramref name="format"/>.</summary>
    public static bool HostFormat(WeightFormat format) => format is WeightFormat.Q8 or WeightFormat.Q4 or WeightFormat.Q4Z;

    /// <summary>
    /// The placement for <paramref name="c"/> on <paramref name="device"/>.
    /// <paramref name="hostLayers"/>: null chooses (auto): on a CPU Vulkan device every layer on the host (the host
    /// kernels read the same memory, faster than the device's shaders); elsewhere as many layers on the device as
    /// <paramref name="deviceMemory"/> holds after the always-on weights, the KV cache and the activations. A number
    /// (at most the layers; <see cref="All"/>) places that many on the host.
    /// <paramref name="deviceMemory"/>: the device bytes to use (null: what the device reports, less a margin).
    /// <paramref name="hostMemory"/>: the host bytes available (null: <see cref="HostMemory"/>, measured now).
    /// </summary>
    public static ExpertPlacement Choose(HunyuanConfig c, WeightFormat format, int contextLength, DeviceInfo device, long? deviceMemory = null,
        int? hostLayers = 0, int prefillChunk = 64, long? hostMemory = null, KvCacheFormat kvFormat = KvCacheFormat.F16)
    {
        ArgumentNullException.ThrowIfNull(c);
        ArgumentNullException.ThrowIfNull(device);
        if (hostLayers < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(hostLayers), hostLayers, "host expert layers must be 0 or more");
        }

        bool cpuDevice = device.Type == "cpu";
        long budget = deviceMemory ?? DefaultBudget(device);
        long hostAvailable = hostMemory ?? HostMemory();
        MemoryEstimate allDevice = MemoryEstimate.For(c, format, contextLength, prefillChunk, kvFormat: kvFormat, device: device);
        long routed = allDevice.RoutedLayerBytes;
        long always = allDevice.TotalBytes - c.Layers * routed;   // what stays on the device whatever the placement
        string budgetText = deviceMemory is null ? $"{Gb(budget)} of {device.Name}" : $"--device-memory {Gb(budget)}";
        int host;
        string why;
        if (hostLayers is int asked)
        {
            host = Math.Min(asked, c.Layers);
            why = host == 0 ? "all routed experts on the device, as asked" : $"{host} layers' routed experts on the host, as asked";
        }
        else if (cpuDevice)
        {
            host = c.Layers;
            why = $"{device.Name} is a CPU device: the host kernels read the same memory, faster than its shaders";
        }
        else
        {
            int onDevice = budget <= always ? 0 : (int)Math.Min(c.Layers, (budget - always) / Math.Max(routed, 1));
            host = c.Layers - onDevice;
            why = host == 0 ? $"all routed experts fit {budgetText}" : $"{onDevice} layers' routed experts fit {budgetText}; the other {host} go to the host";
        }

        if (!HostFormat(format))
        {
            if (host > 0 && hostLayers is not null)
            {
                throw new NotSupportedException($"Routed experts on the host run q8, q4 and GPTQ int4; the weights are {format.Spec().Name}: use --host-experts 0 or --weights q8 or q4");
            }

            (host, why) = (0, $"the host kernels run q8, q4 and GPTQ int4, not {format.Spec().Name}");
        }

        RequireSharedExpert(c, host);
        bool sharedOnHost = host > 0 && cpuDevice;
        MemoryEstimate estimate = MemoryEstimate.For(c, format, contextLength, prefillChunk, host, sharedOnHost, kvFormat, device);
        if (estimate.TotalBytes > budget)
        {
            string fix = host == c.Layers
                ? "Even with every layer's routed experts on the host the device needs more: try a smaller --weights format or a shorter --context."
                : hostLayers is null ? "Try a smaller --weights format or a shorter --context."
                : "Put more layers' experts on the host (--host-experts auto or all), or try a smaller --weights format or a shorter --context.";
            throw new InsufficientDeviceMemoryException(string.Create(CultureInfo.InvariantCulture,
                $"The model needs about {Gb(estimate.TotalBytes)} on the device with {host} of {c.Layers} layers' routed experts on the host ({estimate}); {budgetText} is the budget. {fix}"));
        }

        // On a CPU device the "device" memory is host memory too.
        long hostNeeded = estimate.HostBytes + (cpuDevice ? estimate.TotalBytes : 0);
        if (host > 0 && hostNeeded > hostAvailable)
        {
            throw new InsufficientDeviceMemoryException(string.Create(CultureInfo.InvariantCulture,
                $"{host} layers' routed experts need about {Gb(estimate.HostBytes)} of host memory{(cpuDevice ? $" (and {Gb(estimate.TotalBytes)} more for the CPU device)" : string.Empty)}; {Gb(hostAvailable)} is available, and the device holds only {Gb(budget)}. Try a smaller --weights format."));
        }

        return new ExpertPlacement(host, estimate, budget, hostAvailable, why, sharedOnHost);
    }

    /// <summary>What the device reports (<see cref="MemoryEstimate.Budget"/>) less a margin for the driver and other
    /// programs: 5%, at least 256 MiB.</summary>
    public static long DefaultBudget(DeviceInfo device)
    {
        long reported = MemoryEstimate.Budget(device);
        return reported - Math.Max(reported / 20, 256L << 20);
    }

    /// <summary>Host memory available now: MemAvailable on Linux, else what the runtime sees.</summary>
    public static long HostMemory()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                {
                    string kb = line["MemAvailable:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    /// <summary>One line for the log: layers each side, GB each side, host RAM needed.</summary>
    public string Describe(int layers)
    {
        string host = HostLayers == 0 ? string.Empty
            : string.Create(CultureInfo.InvariantCulture,
                $"; host: {(SharedOnHost ? "routed and shared" : "routed")} experts of layers 0-{HostLayers - 1}, {Gb(Estimate.HostBytes)} of {Gb(HostAvailable)} available");
        return string.Create(CultureInfo.InvariantCulture,
            $"experts: {layers - HostLayers} layers on the device, {HostLayers} on the host ({Why}); device: {Gb(Estimate.TotalBytes)} of {Gb(DeviceBudget)} ({Estimate.ToString().Split(';')[0]}){host}");
    }

    private static string Gb(long bytes) => (bytes / 1e9).ToString("0.00", CultureInfo.InvariantCulture) + " GB";

    /// <summary>Host layers keep their shared expert's slot in the device's expert stack (or run it on the host): a
    /// config without a shared expert has neither.</summary>
    internal static void RequireSharedExpert(HunyuanConfig c, int hostLayers)
    {
        if (hostLayers > 0 && c.SharedExperts == 0)
        {
            throw new NotSupportedException("Routed experts on the host need a shared expert per layer (every Hunyuan MoE has one); this config has none: use --host-experts 0");
        }
    }
}
