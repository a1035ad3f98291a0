using System.Collections.Concurrent;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>Validation messages from every Vulkan instance of the process while this is alive, such as those of an
/// engine's own instance, which <see cref="VulkanTest"/>'s check of the shared one does not see.</summary>
public sealed class InstanceMessages : IDisposable
{
    private readonly ConcurrentQueue<ValidationMessage> _messages = new();

    public InstanceMessages() => VulkanInstance.MessageRaised += _messages.Enqueue;

    public IReadOnlyCollection<ValidationMessage> Messages => _messages;

    public void Dispose() => VulkanInstance.MessageRaised -= _messages.Enqueue;
}
