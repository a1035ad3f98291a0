using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Cli;

/// <summary>
/// Turns the engine's expected failures into one line on stderr and a non-zero exit code. With HYVK_VALIDATION=1,
/// every validation message is printed and makes the command fail (exit 3), so a whole generation is checked.
/// </summary>
internal static class CliErrors
{
    public const int Failure = 1;
    public const int ValidationFailure = 3;

    /// <summary>The exception's message for a person: without .NET's " (Parameter 'x')" suffix.</summary>
    public static string Message(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e is ArgumentException { ParamName: string name } ? e.Message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal) : e.Message;
    }

    public static int Run(Func<int> action)
    {
        int messages = 0;
        void Report(ValidationMessage m)
        {
            Interlocked.Increment(ref messages);
            Console.Error.WriteLine($"hyvk: validation {m}");
        }

        VulkanInstance.MessageRaised += Report;
        try
        {
            int exit = action();
            return messages > 0 && exit == 0 ? ValidationFailure : exit;
        }
        catch (Exception e) when (e is VulkanException or IOException or InvalidDataException or NotSupportedException or ArgumentException
            or Model.ModelFormatException or UnauthorizedAccessException or Execution.InsufficientDeviceMemoryException)
        {
            Console.Error.WriteLine($"hyvk: error: {Message(e)}");
            return Failure;
        }
        finally
        {
            VulkanInstance.MessageRaised -= Report;
        }
    }
}
