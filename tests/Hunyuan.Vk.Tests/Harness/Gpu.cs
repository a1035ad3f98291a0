using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>
/// The one Vulkan instance and device of a test run, opened on first use and closed by <see cref="GpuSetUp"/>.
/// HYVK_VALIDATION=1 turns the validation layer on; HYVK_DEVICE picks the device; HYVK_TUNING forces a row of the
/// kernel-shape table (cpu, nvidia, amd, intel), so one vendor's shapes run here.
/// </summary>
public static class Gpu
{
    private static readonly Lazy<(VulkanInstance? Instance, GpuContext? Context, string? Missing)> s_gpu = new(Open);
    private static readonly Dictionary<Type, object> s_kernels = [];
    private static readonly Lazy<SubgroupProbeResult> s_subgroups = new(() => SubgroupProbe.Run(Context));

    public static VulkanInstance Instance => s_gpu.Value.Instance ?? throw new InvalidOperationException(Unavailable);
    public static GpuContext Context => s_gpu.Value.Context ?? throw new InvalidOperationException(Unavailable);

    /// <summary>Why there is no device for the tests (null: there is one). With HYVK_VALIDATION set, a device is required.</summary>
    public static string? Unavailable => s_gpu.Value.Missing;
    public static DeviceTuning Tuning => DeviceTuning.For(Context.Info);

    /// <summary>What the subgroup probe saw on the device (run once).</summary>
    public static SubgroupProbeResult Subgroups => s_subgroups.Value;

    internal static bool IsOpen => s_gpu.IsValueCreated;

    /// <summary>One kernel of each kind per run, so pipelines are compiled once (about 0.1 s each on lavapipe).</summary>
    public static T Kernel<T>(Func<GpuContext, DeviceTuning, T> create)
        where T : class, IDisposable
    {
        ArgumentNullException.ThrowIfNull(create);
        lock (s_kernels)
        {
            if (!s_kernels.TryGetValue(typeof(T), out object? kernel))
            {
                s_kernels[typeof(T)] = kernel = create(Context, Tuning);
            }

            return (T)kernel;
        }
    }

    internal static void Close()
    {
        if (!s_gpu.IsValueCreated)
        {
            return;
        }

        foreach (IDisposable k in s_kernels.Values.Cast<IDisposable>())
        {
            k.Dispose();
        }

        s_kernels.Clear();
        s_gpu.Value.Context?.Dispose();
        s_gpu.Value.Instance?.Dispose();
    }

    private static (VulkanInstance?, GpuContext?, string?) Open()
    {
        VulkanInstance? instance = null;
        try
        {
            instance = new VulkanInstance();
            TestContext.Progress.WriteLine(
                $"Vulkan tests on {instance.Devices.Count} device(s); validation layer {(instance.ValidationEnabled ? "ON" : "off")}");
            GpuContext context = instance.CreateContext();
            TestContext.Progress.WriteLine($"Device: [{context.Info.Index}] {context.Info.Name} ({context.Info.Driver})");
            return (instance, context, null);
        }
        catch (VulkanException e) when (Environment.GetEnvironmentVariable(VulkanInstance.ValidationVariable) is null)
        {
            instance?.Dispose();
            string reason = $"No Vulkan device to test on: {e.Message} (bash tools/setup.sh installs lavapipe, Mesa's CPU device)";
            TestContext.Progress.WriteLine(reason);
            return (null, null, reason);
        }
    }
}
