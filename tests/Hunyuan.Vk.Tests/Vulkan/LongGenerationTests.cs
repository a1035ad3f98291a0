using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Vulkan;

/// <summary>
/// #16: a 1,000-token generation, the decode loop's command buffers re-recorded, resubmitted and reused a thousand
/// times, with the device's memory and descriptor use steady throughout. CI runs it under the validation layer, where
/// any message from the engine's instance fails it.
/// </summary>
[NonParallelizable]
public sealed class LongGenerationTests : VulkanTest
{
    [TestCase(KvCacheFormat.F16)]
    public void A_thousand_tokens_generate_with_no_validation_message(KvCacheFormat kv)
    {
        using var messages = new InstanceMessages();   // the engine's disposal included
        using (HunyuanEngine engine = HunyuanEngine.Load(TestModels.Directory(TestModels.Tiny()),
            new EngineOptions { Weights = WeightFormat.Q8, ContextLength = 1100, KvCache = kv, Executor = ExecutorChoice.BestDevice }))
        {
            long allocated = -1;
            var stats = new GenerationStats();
            int count = 0;
            foreach (int token in engine.GenerateTokens([9906, 11, 1917], new GenerateOptions { MaxTokens = 1000, Temperature = 0.8f, Seed = 3, Stats = stats }))
            {
                Assert.That(token, Is.InRange(0, engine.Config.VocabSize - 1));
                if (++count == 10)
                {
                    allocated = engine.DeviceBytesAllocated;
                }
            }

            TestContext.Out.WriteLine($"{kv}: {count} tokens, {stats.FinishReason}, {stats.DecodeTokensPerSecond:F0} tok/s");
            Assert.That(count, Is.EqualTo(1000), "this seed samples no stop token");
            Assert.That(stats.FinishReason, Is.EqualTo(FinishReason.Length));
            Assert.That(engine.DeviceBytesAllocated, Is.EqualTo(allocated), "no device memory grows over the generation");
        }

        Assert.That(messages.Messages, Is.Empty);
    }
}
