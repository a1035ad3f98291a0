using System.Text.Json;
using Hunyuan.Vk.Diagnostics;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Cli;

/// <summary><c>hyvk selftest</c>: every kernel, format and mode against the CPU reference, and a failure is an exit 1.</summary>
public sealed class SelfTestCommandTests : VulkanTest
{
    [Test]
    public void Quick_selftest_covers_every_format_and_passes_here()
    {
        (int exit, string output, string error) = Hyvk.Run("selftest", "--quick", "--json");
        Assert.That(exit, Is.Zero, error);
        using JsonDocument doc = JsonDocument.Parse(output);
        string[] kernels = [.. doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => c.GetProperty("kernel").GetString()!)];
        foreach (WeightFormatSpec f in WeightFormats.All)
        {
            foreach (string k in new[] { "matvec", "moe_gate_up", "moe_down", "matmul", "embed" })
            {
                Assert.That(kernels, Does.Contain($"{k}_{f.Name}"));
            }
        }

        Assert.That(kernels, Does.Contain("subgroup_probe").And.Contain("rms_norm").And.Contain("argmax"));
        Assert.That(doc.RootElement.GetProperty("failed").GetInt32(), Is.Zero);
        Assert.That(doc.RootElement.GetProperty("tuning").GetString(), Is.EqualTo(Gpu.Tuning.Row));
    }

    [Test]
    public void A_kernel_that_cannot_run_is_a_failed_case_with_its_reason()
    {
        // Rows split over 2 lanes: this device's subgroups are not of 2, so no matvec can be built with that shape.
        IReadOnlyList<SelfTestCase> cases = SelfTest.Run(Context, quick: true, tuning: Gpu.Tuning with { MatVecLanes = 2, MatVecWorkgroup = 8 });
        SelfTestCase matvec = cases.First(c => c.Kernel == "matvec_q4");
        Assert.That(matvec.Passed, Is.False);
        Assert.That(matvec.Error, Does.Contain("full subgroups of 2"));
        Assert.That(cases.First(c => c.Kernel == "matmul_q4").Passed, Is.True, "the other kernels still run");
    }
}
