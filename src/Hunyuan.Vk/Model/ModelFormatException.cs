namespace Hunyuan.Vk.Model;

/// <summary>A model directory, config or checkpoint file is missing, malformed or unsupported. The message names the file,
/// field or tensor at fault.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string message)
        : base(message)
    {
    }

    public ModelFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ModelFormatException()
    {
    }
}
