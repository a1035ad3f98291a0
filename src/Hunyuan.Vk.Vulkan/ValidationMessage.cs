namespace Hunyuan.Vk.Vulkan;

/// <summary>One message of the Khronos validation layer (or the loader), as collected for tests.</summary>
public sealed record ValidationMessage(string Severity, string Type, string? MessageId, string Text)
{
    public override string ToString() => $"[{Severity} {Type}] {MessageId}: {Text}";
}
