using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Silk.NET.Core;
using Silk.NET.Core.Native;
using Silk.NET.Vulkan;

namespace Hunyuan.Vk.Vulkan;

/// <summary>
/// The Vulkan instance: loads the driver, enumerates and probes devices, and owns the validation layer's
/// message log when <c>HYVK_VALIDATION=1</c>. Create one per process; devices are opened with <see cref="CreateContext"/>.
/// </summary>
public sealed unsafe partial class VulkanInstance : IDisposable
{
    public const string ValidationVariable = "HYVK_VALIDATION";
    private const string ValidationLayer = "VK_LAYER_KHRONOS_validation";
    private const string DebugUtilsExtension = "VK_EXT_debug_utils";
    private const string ValidationFeaturesExtension = "VK_EXT_validation_features";

    private readonly ConcurrentQueue<ValidationMessage> _messages = new();
    private readonly List<DeviceInfo> _devices = [];
    private readonly PhysicalDevice[] _physical;
    private DebugUtilsMessengerEXT _messenger;
    private GCHandle _self;
    private bool _disposed;

    internal VkApi Api { get; }
    internal Instance Handle { get; }

    /// <summary>True when the Khronos validation layer is loaded and its messages are collected.</summary>
    public bool ValidationEnabled { get; }

    public IReadOnlyList<DeviceInfo> Devices => _devices;

    /// <summary>Raised for every validation message of any instance in the process, on the driver's thread: lets a
    /// program that does not own the instance (the CLI around the engine) report them.</summary>
    public static event Action<ValidationMessage>? MessageRaised;

    /// <summary>Validation messages so far (empty when validation is off).</summary>
    public IReadOnlyCollection<ValidationMessage> ValidationMessages => _messages;

    /// <summary>The newest Vulkan the engine speaks (the instance's apiVersion).</summary>
    public static readonly Version32 NewestApi = new(1, 3, 0);

    /// <summary>The Vulkan this instance asks for: devices are used at the older of it and their own.</summary>
    public Version32 ApiVersion { get; }

    /// <param name="validation">Load the validation layer; null reads <c>HYVK_VALIDATION</c> (1/true/yes).</param>
    /// <param name="apiVersion">The Vulkan to ask for, <see cref="NewestApi"/> by default; 1.2 runs every device as a
    /// 1.2 driver would run it (tests of the paths for drivers without 1.3).</param>
    public VulkanInstance(bool? validation = null, Version32? apiVersion = null)
    {
        ValidationEnabled = validation ?? IsTruthy(Environment.GetEnvironmentVariable(ValidationVariable));
        ApiVersion = apiVersion ?? NewestApi;
        try
        {
            Api = VkApi.GetApi();
        }
        catch (Exception e) when (e is DllNotFoundException or FileNotFoundException or InvalidOperationException)
        {
            throw new VulkanException(
                "The Vulkan loader (libvulkan.so.1) could not be loaded: install it with 'apt-get install libvulkan1 mesa-vulkan-drivers'.", e);
        }

        Handle = CreateInstance();
        uint count = 0;
        VulkanException.Check(Api.EnumeratePhysicalDevices(Handle, &count, null), "vkEnumeratePhysicalDevices");
        _physical = new PhysicalDevice[count];
        fixed (PhysicalDevice* p = _physical)
        {
            VulkanException.Check(Api.EnumeratePhysicalDevices(Handle, &count, p), "vkEnumeratePhysicalDevices");
        }

        for (int i = 0; i < _physical.Length; i++)
        {
            _devices.Add(DeviceProbe.Probe(Api, _physical[i], i, ApiVersion));
        }
    }

    /// <summary>Opens a device: <paramref name="deviceIndex"/>, else <c>HYVK_DEVICE</c>, else the best one (discrete first).</summary>
    /// <param name="deviceIndex">Index from <see cref="Devices"/>, or null to choose.</param>
    /// <param name="forceStaging">Never map device memory, even where it is host-visible: every upload and read-back then takes
    /// the staging path that discrete GPUs need (used by tests on unified-memory devices).</param>
    /// <param name="tighten">Lowers size limits, which the context then keeps to as a device with those limits would
    /// (<see cref="DeviceLimits.Tightest"/>): to run the paths a smaller GPU's limits take.</param>
    public GpuContext CreateContext(int? deviceIndex = null, bool forceStaging = false, Func<DeviceLimits, DeviceLimits>? tighten = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        DeviceInfo info = DeviceSelector.Select(_devices, deviceIndex);
        if (tighten is not null)
        {
            info = info with { Limits = DeviceLimits.Tightest(info.Limits, tighten(info.Limits)) };
        }

        return new GpuContext(this, _physical[info.Index], info, forceStaging);
    }

    /// <summary>Removes and returns the messages collected so far.</summary>
    public IReadOnlyList<ValidationMessage> DrainValidationMessages()
    {
        var list = new List<ValidationMessage>();
        while (_messages.TryDequeue(out ValidationMessage? m))
        {
            list.Add(m);
        }

        return list;
    }

    private static bool IsTruthy(string? value) =>
        value is not null && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase) || value.Equals("yes", StringComparison.OrdinalIgnoreCase));

    private Instance CreateInstance()
    {
        var layers = new List<string>();
        var extensions = new List<string>();
        if (ValidationEnabled)
        {
            if (!InstanceLayerNames().Contains(ValidationLayer))
            {
                throw new VulkanException(
                    $"{ValidationVariable}=1 asks for {ValidationLayer}, which is not installed: 'apt-get install vulkan-validationlayers'.");
            }

            layers.Add(ValidationLayer);
            extensions.Add(DebugUtilsExtension);
            extensions.Add(ValidationFeaturesExtension);
        }

        nint appName = SilkMarshal.StringToPtr("hyvk");
        nint layerNames = SilkMarshal.StringArrayToPtr(layers);
        nint extensionNames = SilkMarshal.StringArrayToPtr(extensions);
        try
        {
            var app = new ApplicationInfo
            {
                SType = StructureType.ApplicationInfo,
                PApplicationName = (byte*)appName,
                PEngineName = (byte*)appName,
                ApiVersion = (uint)ApiVersion,
            };
            DebugUtilsMessengerCreateInfoEXT messengerInfo = MessengerCreateInfo();
            // Synchronization validation too: a barrier the recorder's hazard tracking fails to place is a message.
            ValidationFeatureEnableEXT synchronization = ValidationFeatureEnableEXT.SynchronizationValidationExt;
            var features = new ValidationFeaturesEXT
            {
                SType = StructureType.ValidationFeaturesExt,
                EnabledValidationFeatureCount = 1,
                PEnabledValidationFeatures = &synchronization,
                PNext = &messengerInfo,
            };
            var info = new InstanceCreateInfo
            {
                SType = StructureType.InstanceCreateInfo,
                PApplicationInfo = &app,
                EnabledLayerCount = (uint)layers.Count,
                PpEnabledLayerNames = (byte**)layerNames,
                EnabledExtensionCount = (uint)extensions.Count,
                PpEnabledExtensionNames = (byte**)extensionNames,
                // Chained so that messages of vkCreateInstance itself are reported too.
                PNext = ValidationEnabled ? &features : null,
            };
            Instance instance;
            VulkanException.Check(Api.CreateInstance(&info, null, &instance), "vkCreateInstance");
            if (ValidationEnabled)
            {
                CreateMessenger(instance, messengerInfo);
            }

            return instance;
        }
        finally
        {
            SilkMarshal.Free(appName);
            SilkMarshal.Free(layerNames);
            SilkMarshal.Free(extensionNames);
        }
    }

    private HashSet<string> InstanceLayerNames()
    {
        uint count = 0;
        VulkanException.Check(Api.EnumerateInstanceLayerProperties(&count, null), "vkEnumerateInstanceLayerProperties");
        var props = new LayerProperties[count];
        fixed (LayerProperties* p = props)
        {
            VulkanException.Check(Api.EnumerateInstanceLayerProperties(&count, p), "vkEnumerateInstanceLayerProperties");
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < count; i++)
            {
                names.Add(SilkMarshal.PtrToString((nint)p[i].LayerName) ?? string.Empty);
            }

            return names;
        }
    }

    private DebugUtilsMessengerCreateInfoEXT MessengerCreateInfo()
    {
        if (!_self.IsAllocated)
        {
            _self = GCHandle.Alloc(this);
        }

        return new DebugUtilsMessengerCreateInfoEXT
        {
            SType = StructureType.DebugUtilsMessengerCreateInfoExt,
            MessageSeverity = DebugUtilsMessageSeverityFlagsEXT.WarningBitExt | DebugUtilsMessageSeverityFlagsEXT.ErrorBitExt,
            MessageType = DebugUtilsMessageTypeFlagsEXT.ValidationBitExt | DebugUtilsMessageTypeFlagsEXT.GeneralBitExt
                | DebugUtilsMessageTypeFlagsEXT.PerformanceBitExt,
            PfnUserCallback = new PfnDebugUtilsMessengerCallbackEXT(&OnMessage),
            PUserData = (void*)GCHandle.ToIntPtr(_self),
        };
    }

    private void CreateMessenger(Instance instance, DebugUtilsMessengerCreateInfoEXT info)
    {
        var create = (delegate* unmanaged<Instance, DebugUtilsMessengerCreateInfoEXT*, AllocationCallbacks*, DebugUtilsMessengerEXT*, Result>)
            InstanceFunction(instance, "vkCreateDebugUtilsMessengerEXT");
        DebugUtilsMessengerEXT messenger;
        VulkanException.Check(create(instance, &info, null, &messenger), "vkCreateDebugUtilsMessengerEXT");
        _messenger = messenger;
    }

    private void* InstanceFunction(Instance instance, string name)
    {
        PfnVoidFunction f = Api.GetInstanceProcAddr(instance, name);
        void* pointer = (void*)f;
        return pointer != null ? pointer : throw new VulkanException($"vkGetInstanceProcAddr found no {name}");
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static Bool32 OnMessage(
        DebugUtilsMessageSeverityFlagsEXT severity,
        DebugUtilsMessageTypeFlagsEXT types,
        DebugUtilsMessengerCallbackDataEXT* data,
        void* userData)
    {
        if (GCHandle.FromIntPtr((nint)userData).Target is VulkanInstance self)
        {
            string text = SilkMarshal.PtrToString((nint)data->PMessage) ?? string.Empty;
            string? id = data->PMessageIdName is null ? null : SilkMarshal.PtrToString((nint)data->PMessageIdName);
            // The loader reports which layers and drivers it found as general warnings on some setups; those are not engine bugs.
            bool loaderChatter = types == DebugUtilsMessageTypeFlagsEXT.GeneralBitExt && id is "Loader Message" or null
                && severity != DebugUtilsMessageSeverityFlagsEXT.ErrorBitExt;
            if (!loaderChatter)
            {
                string level = severity.HasFlag(DebugUtilsMessageSeverityFlagsEXT.ErrorBitExt) ? "error" : "warning";
                var message = new ValidationMessage(level, types.ToString(), id, text);
                self._messages.Enqueue(message);
                MessageRaised?.Invoke(message);
            }
        }

        return VkApi.False;
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (_messenger.Handle != 0)
        {
            var destroy = (delegate* unmanaged<Instance, DebugUtilsMessengerEXT, AllocationCallbacks*, void>)
                InstanceFunction(Handle, "vkDestroyDebugUtilsMessengerEXT");
            destroy(Handle, _messenger, null);
        }

        Api.DestroyInstance(Handle, null);
        if (_self.IsAllocated)
        {
            _self.Free();
        }

        Api.Dispose();
    }
}
