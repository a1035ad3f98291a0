using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Execution;

/// <summary>
/// #24 point 3: router logits that overflow (the first layer's router weights all bf16's largest value, finite so they
/// load) choose no token, at decode (one token, the matvec MoE) and at prefill (the grouped MoE), with the routed
/// experts on the device and on the host: the session returns "no token" (-1), which the generator reports as logits
/// that are not finite. Before: moe_route wrote expert 0xFFFFFFFF (moe_group then indexed shared memory with it; the
/// host threw "no expert -1").
/// </summary>
public sealed class RouterOverflowTests : VulkanTest
{
    [TestCase(0, false)]
    [TestCase(0, true)]
    [TestCase(2, false)]
    [TestCase(2, true)]
    public void Router_logits_that_overflow_choose_no_token(int hostLayers, bool prefill)
    {
        using var patched = new PatchedModel(TestModels.Directory(TestModels.Tiny()), ModelLayout.Router(0), PatchedModel.Bf16Max);
        using ModelWeights weights = ModelWeights.Open(patched.Directory);
        using var model = new DeviceModel(Context, weights, WeightFormat.Q8, hostLayers: hostLayers);
        using var session = new DecodeSession(Context, model, maxPositions: 16, prefillChunk: 4);
        int[] prompt = DecodeSessionTests.Prompt;
        int next = prefill ? session.Prefill(prompt) : session.Step(prompt[0]);
        Assert.That(next, Is.EqualTo(-1), "no token: the logits are not finite");
        if (prefill)
        {
            Assert.That(session.LastStep.HostExperts.HandOffs, Is.EqualTo(hostLayers), "the chunk ran its host layers");
        }

        Assert.That(session.Step(1), Is.EqualTo(-1), "and the step after it");
    }
}
