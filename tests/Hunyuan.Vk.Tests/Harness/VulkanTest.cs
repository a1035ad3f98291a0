using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>
/// Base of every test that touches the device: tagged "Vulkan" (CI runs these again under the validation layer),
/// ignored with the reason where there is no Vulkan device or where its subgroups are not what it reports (the
/// subgroup probe), and any validation message raised during a test fails that test.
/// </summary>
[Category("Vulkan")]
public abstract class VulkanTest
{
    protected static GpuContext Context => Gpu.Context;

    /// <summary>Whether the test needs the device's subgroups to be what it reports (the subgroup probe's own tests do not).</summary>
    protected virtual bool NeedsHonestSubgroups => true;

    [SetUp]
    public void ClearValidationLog()
    {
        if (Gpu.Unavailable is string reason)
        {
            Assert.Ignore(reason);
        }

        if (NeedsHonestSubgroups && !Gpu.Subgroups.Honest)
        {
            Assert.Ignore($"{Context.Info.Name}: {Gpu.Subgroups.Describe()}; no kernel can be right against that, so this device is no stand-in here");
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
