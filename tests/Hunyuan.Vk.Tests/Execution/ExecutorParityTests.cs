using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Execution;

/// <summary>The two executors on F32 weights: the same greedy tokens, prompt and continuation, on an untied model
/// whose tokens depend on the whole network.</summary>
public sealed class ExecutorParityTests : VulkanTest
{
    [TestCase(KvCacheFormat.F16)]
    [TestCase(KvCacheFormat.Q8)]
    public void Host_and_device_give_identical_greedy_tokens_on_f32_weights(KvCacheFormat kv)
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny() with { TieEmbeddings = false }));
        int[] prompt = [.. DecodeSessionTests.Prompt, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309];
        using var model = new DeviceModel(Context, weights, WeightFormat.F32);
        using var device = new DecodeSession(Context, model, maxPositions: 96, prefillChunk: 8, kvFormat: kv);
        using var host = new HostSession(HostModel.Load(weights, WeightFormat.F32), maxPositions: 96, prefillChunk: 8, kvFormat: kv, threads: 2);
        var d = new List<int> { device.Prefill(prompt) };
        var h = new List<int> { host.Prefill(prompt) };
        for (int i = 0; i < 40; i++)
        {
            d.Add(device.Step(d[^1]));
            h.Add(host.Step(h[^1]));
        }

        Assert.That(h, Is.EqualTo(d), $"41 greedy tokens, KV {kv.Name()}");
        Assert.That(h.Distinct().Count(), Is.GreaterThan(10), "tokens that depend on the step");
    }
}
