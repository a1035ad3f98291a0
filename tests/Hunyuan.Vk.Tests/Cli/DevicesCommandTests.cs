using System.Text.Json;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Cli;

public sealed class DevicesCommandTests : VulkanTest
{
    private static (int Exit, string Out) Run(params string[] args)
    {
        (int exit, string output, _) = Hyvk.Run(args);
        return (exit, output);
    }

    [Test]
    public void Json_lists_lavapipe_with_its_subgroup_size_and_features()
    {
        (int exit, string json) = Run("devices", "--json");
        Assert.That(exit, Is.Zero);
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement devices = doc.RootElement.GetProperty("devices");
        Assert.That(devices.GetArrayLength(), Is.GreaterThan(0));
        JsonElement lavapipe = devices.EnumerateArray().FirstOrDefault(d => d.GetProperty("driver").GetString() == "llvmpipe");
        Assert.That(lavapipe.ValueKind, Is.EqualTo(JsonValueKind.Object), "the setup installs mesa-vulkan-drivers, so lavapipe is always listed");
        Assert.That(lavapipe.GetProperty("type").GetString(), Is.EqualTo("cpu"));
        Assert.That(lavapipe.GetProperty("subgroupSize").GetUInt32(), Is.GreaterThan(0u));
        Assert.That(lavapipe.GetProperty("features").GetProperty("storage16Bit").GetBoolean(), Is.True);
        Assert.That(doc.RootElement.GetProperty("selected").GetInt32(), Is.GreaterThanOrEqualTo(0));
    }

    [Test]
    public void Text_names_every_device_and_marks_the_selected_one()
    {
        (int exit, string text) = Run("devices");
        Assert.That(exit, Is.Zero);
        Assert.That(text, Does.Contain("llvmpipe").And.Contain("<- selected").And.Contain("subgroup"));
    }

    [Test]
    public void A_device_that_does_not_exist_is_an_error()
    {
        (int exit, _, string error) = Hyvk.Run("devices", "--device", "99");
        Assert.That(exit, Is.EqualTo(1));
        Assert.That(error, Does.Contain("Device 99 does not exist"));
    }

    [Test]
    public void Unknown_options_fail_with_a_non_zero_exit() =>
        Assert.That(Hyvk.Run("devices", "--no-such-option").Exit, Is.Not.Zero);
}
