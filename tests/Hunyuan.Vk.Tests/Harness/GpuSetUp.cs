using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>After the last test: deletes generated models, closes the shared device, and fails the run on validation messages nobody checked.</summary>
[SetUpFixture]
public sealed class GpuSetUp
{
    [OneTimeTearDown]
    public void CloseDevice()
    {
        TestModels.DeleteAll();
        if (!Gpu.IsOpen || Gpu.Unavailable is not null)
        {
            return;
        }

        IReadOnlyList<ValidationMessage> late = Gpu.Instance.DrainValidationMessages();
        Gpu.Close();
        Assert.That(late, Is.Empty, () => "Validation messages outside any test:\n" + string.Join('\n', late));
    }
}
