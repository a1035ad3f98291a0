using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Kernels;

public sealed class RepetitionPenaltyTests : VulkanTest
{
    [Test]
    public void Each_seen_token_is_penalised_once()
    {
        float[] logits = TestData.Uniform(1, 1000, 5f);
        logits[5] = 2f;
        logits[9] = -3f;
        uint[] history = [5, 9, 5, 100, 9, 5, 5];
        float[] expected = [.. logits];
        foreach (uint t in history.Distinct())
        {
            expected[t] = logits[t] > 0 ? logits[t] / 1.3f : logits[t] * 1.3f;
        }

        using GpuBuffer gl = Upload(logits, "logits"), gh = Upload(history, "history"), scratch = Context.CreateBuffer(64, "scratch");
        using var kernel = new RepetitionPenaltyKernel(Context, Gpu.Tuning);
        Context.Run(r => kernel.Record(r, gl.All, gh.All, scratch.All, (uint)history.Length, 1.3f));
        var actual = new float[1000];
        gl.Read<float>(actual);
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(actual[5], Is.EqualTo(2f / 1.3f), "once, though token 5 occurs four times");
    }
}
