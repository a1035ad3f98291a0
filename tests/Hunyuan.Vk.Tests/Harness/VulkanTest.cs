using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>
/// Base of every test that touches the device: tagged "Vulkan" (CI runs these again under the validation layer),
/// ignored with the reason where there is no Vulkan device, and any validation message raised during a test fails
/// that test.
/// </summary>
[Category("Vulkan")]
public abstract class VulkanTest
{
    protected static GpuContext Context => Gpu.Context;

    [SetUp]
    public void ClearValidationLog()
    {
        if (Gpu.Unavailable is string reason)
        {
            Assert.Ignore(reason);
        }

        Gpu.Instance.DrainValidationMessages();
    }

    [TearDown]
    public void FailOnValidationMessages()
    {
        if (Gpu.Unavailable is not null)
        {
            return;
        }

        IReadOnlyList<ValidationMessage> messages = Gpu.Instance.DrainValidationMessages();
        Assert.That(messages, Is.Empty, () => $"{messages.Count} validation message(s):\n" + string.Join('\n', messages));
    }

    /// <summary>Uploads <paramref name="data"/> into a new device buffer.</summary>
    protected static GpuBuffer Upload<T>(T[] data, string name)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        GpuBuffer buffer = Context.CreateBuffer((ulong)(data.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>()), name);
        buffer.Write<T>(data);
        return buffer;
    }
}
