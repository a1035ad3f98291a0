using System.Diagnostics;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Vulkan;

/// <summary>
/// #16 point 7: a device that runs out of memory at any allocation of loading or session creation, or that is lost
/// during generation (both made on purpose by <see cref="DeviceFaults"/>, HYVK_FAULTS): one clear error naming what
/// failed, everything made so far freed, no validation message, no hang; and the CLI exits non-zero saying so.
/// </summary>
[NonParallelizable]
public sealed class DeviceFaultTests : VulkanTest
{
    private static readonly EngineOptions s_options = new() { Weights = WeightFormat.Q8, ContextLength = 256, Executor = ExecutorChoice.BestDevice };
    private InstanceMessages _messages = null!;
    private string _model = null!;

    [SetUp]
    public void Listen()
    {
        _model = TestModels.Directory(TestModels.Tiny());
        _messages = new InstanceMessages();
    }

    [TearDown]
    public void Stop()
    {
        _messages.Dispose();
        Environment.SetEnvironmentVariable(DeviceFaults.EnvironmentVariable, null);
        Assert.That(_messages.Messages, Is.Empty, "validation messages from the engine's own instance");
    }

    [Test]
    public void An_allocation_that_fails_anywhere_in_loading_names_the_buffer_and_frees_everything()
    {
        long live = GpuBuffer.Live, allocations;
        using (HunyuanEngine engine = HunyuanEngine.Load(_model, s_options))
        {
            allocations = engine.DeviceAllocations;
        }

        Assert.That(GpuBuffer.Live, Is.EqualTo(live), "a loaded engine frees its buffers");
        Assert.That(allocations, Is.GreaterThan(20));
        long[] points = [.. new[] { 1, 2, 3, allocations / 4, allocations / 2, 3 * allocations / 4, allocations - 1, allocations }.Distinct()];
        for (int i = 0; i < points.Length; i++)
        {
            string kind = i % 2 == 0 ? "oom-device" : "oom-host";
            Environment.SetEnvironmentVariable(DeviceFaults.EnvironmentVariable, $"{kind}:{points[i]}");
            var e = Assert.Throws<VulkanException>(() => HunyuanEngine.Load(_model, s_options).Dispose(), $"{kind} at allocation {points[i]} of {allocations}");
            Assert.That(e!.Message, Does.Match(@"^vkAllocateMemory for buffer '[^']+' \(\d+ bytes, [\d.]+ MiB; [\d.]+ MiB held already\) failed: ErrorOutOf(Device|Host)Memory \(the (device|host) has no memory left"));
            Assert.That(GpuBuffer.Live, Is.EqualTo(live), $"{kind} at allocation {points[i]}: every buffer made before it freed");
        }
    }

    [Test]
    public void A_device_lost_during_generation_ends_it_with_an_error_and_nothing_more_runs()
    {
        long live = GpuBuffer.Live, waits;
        using (HunyuanEngine engine = HunyuanEngine.Load(_model, s_options))
        {
            waits = engine.DeviceWaits;
        }

        Environment.SetEnvironmentVariable(DeviceFaults.EnvironmentVariable, $"lost:{waits + 4}");   // a few steps in
        using (HunyuanEngine engine = HunyuanEngine.Load(_model, s_options))
        {
            var clock = Stopwatch.StartNew();
            int tokens = 0;
            var e = Assert.Throws<VulkanException>(() =>
            {
                foreach (int _ in engine.GenerateTokens([9906, 11, 1917], new GenerateOptions { MaxTokens = 50, Temperature = 0 }))
                {
                    tokens++;
                }
            });
            Assert.That(e!.Message, Does.Contain("ErrorDeviceLost").And.Contain("the device was lost"));
            Assert.That(tokens, Is.LessThan(50), "it stopped at the loss");
            var again = Assert.Throws<VulkanException>(() => engine.GenerateTokens([9906], new GenerateOptions { MaxTokens = 2 }).ToList());
            Assert.That(again!.Message, Does.Contain("was lost").And.Contain("restart"));
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "no hang");
        }

        Assert.That(GpuBuffer.Live, Is.EqualTo(live), "a lost device's engine still frees everything");
    }

    [TestCase("oom-device:7", "vkAllocateMemory for buffer '", "ErrorOutOfDeviceMemory")]
    [TestCase("lost:40", "vkWaitForFences failed: ErrorDeviceLost", "the device was lost")]
    [TestCase("lost:0", "HYVK_FAULTS='lost:0'", "KIND:N")]
    public void The_cli_says_what_failed_and_exits_non_zero(string faults, string message, string detail)
    {
        Environment.SetEnvironmentVariable(DeviceFaults.EnvironmentVariable, faults);
        (int exit, string output, string error) = Hyvk.Run("generate", "--device", "vulkan", "--model", _model, "--weights", "q8", "--prompt-ids", "9906,11,1917", "--max-tokens", "40", "--temperature", "0", "--context", "256");
        Assert.That(exit, Is.EqualTo(1), output);
        Assert.That(error, Does.Contain("hyvk: error: ").And.Contain(message).And.Contain(detail).And.Not.Contain("   at "));
    }
}
