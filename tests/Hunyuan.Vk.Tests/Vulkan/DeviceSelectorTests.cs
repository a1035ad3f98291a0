using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Vulkan;

public sealed class DeviceSelectorTests
{
    private static DeviceInfo Device(int index, string type, string? unsupported = null) => new()
    {
        Index = index,
        Name = $"dev{index}",
        VendorId = 0,
        Vendor = "test",
        DeviceId = 0,
        Type = type,
        Driver = "test",
        DriverInfo = string.Empty,
        ApiVersion = "1.3.0",
        MemoryHeaps = [],
        UnifiedMemory = false,
        SubgroupSize = 32,
        MinSubgroupSize = 32,
        MaxSubgroupSize = 32,
        Features = new DeviceFeatures(),
        Limits = new DeviceLimits(),
        Unsupported = unsupported,
    };

    [Test]
    public void Prefers_discrete_then_integrated_then_cpu()
    {
        DeviceInfo[] devices = [Device(0, "cpu"), Device(1, "integrated"), Device(2, "discrete")];
        Assert.That(DeviceSelector.Select(devices, null).Index, Is.EqualTo(2));
        Assert.That(DeviceSelector.Select(devices[..2], null).Index, Is.EqualTo(1));
        Assert.That(DeviceSelector.Select(devices[..1], null).Index, Is.EqualTo(0));
    }

    [Test]
    public void Skips_devices_the_engine_cannot_use()
    {
        DeviceInfo[] devices = [Device(0, "discrete", "Vulkan 1.1 is older than the 1.2 the engine needs"), Device(1, "cpu")];
        Assert.That(DeviceSelector.Select(devices, null).Index, Is.EqualTo(1));
    }

    [Test]
    public void An_explicit_index_wins()
    {
        DeviceInfo[] devices = [Device(0, "cpu"), Device(1, "discrete")];
        Assert.That(DeviceSelector.Select(devices, 0).Index, Is.EqualTo(0));
    }

    [Test]
    public void A_missing_index_is_an_error_that_says_how_many_there_are()
    {
        DeviceInfo[] devices = [Device(0, "cpu")];
        var e = Assert.Throws<VulkanException>(() => DeviceSelector.Select(devices, 3));
        Assert.That(e!.Message, Does.Contain("Device 3").And.Contain("1 Vulkan devices"));
    }

    [Test]
    public void No_devices_names_the_package_to_install()
    {
        var e = Assert.Throws<VulkanException>(() => DeviceSelector.Select([], null));
        Assert.That(e!.Message, Does.Contain("mesa-vulkan-drivers"));
    }
}
