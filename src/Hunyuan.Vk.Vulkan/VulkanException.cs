using Silk.NET.Vulkan;

namespace Hunyuan.Vk.Vulkan;

/// <summary>A Vulkan call failed, or the device cannot do what the engine asked of it.</summary>
public sealed class VulkanException : Exception
{
    public VulkanException(string message)
        : base(message)
    {
    }

    public VulkanException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public VulkanException()
    {
    }

    /// <summary>The VkResult of the failed call, when a call failed.</summary>
    public string? Result { get; init; }

    /// <summary>Throws unless <paramref name="result"/> is VK_SUCCESS, naming the call that failed.</summary>
    public static void Check(Result result, string call)
    {
        if (result != Silk.NET.Vulkan.Result.Success)
        {
            throw new VulkanException($"{call} failed: {result}{Hint(result)}") { Result = result.ToString() };
        }
    }

    private static string Hint(Result result) => result switch
    {
        Silk.NET.Vulkan.Result.ErrorOutOfDeviceMemory => " (the device has no memory left for this allocation)",
        Silk.NET.Vulkan.Result.ErrorOutOfHostMemory => " (the host has no memory left)",
        Silk.NET.Vulkan.Result.ErrorDeviceLost => " (the device was lost: a shader may have faulted or run too long)",
        Silk.NET.Vulkan.Result.ErrorIncompatibleDriver => " (no Vulkan driver: install mesa-vulkan-drivers or your GPU vendor's driver)",
        Silk.NET.Vulkan.Result.ErrorLayerNotPresent => " (install vulkan-validationlayers or unset HYVK_VALIDATION)",
        _ => string.Empty,
    };
}
