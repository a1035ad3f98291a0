using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Cli;

/// <summary>Turns the engine's expected failures into one line on stderr and a non-zero exit code.</summary>
internal static class CliErrors
{
    public const int Failure = 1;

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is VulkanException or IOException or InvalidDataException or NotSupportedException or ArgumentException
            or Model.ModelFormatException or UnauthorizedAccessException or Execution.InsufficientDeviceMemoryException)
        {
            Console.Error.WriteLine($"hyvk: error: {e.Message}");
            return Failure;
        }
    }
}
