namespace Hunyuan.Vk.Tests.Architecture;

/// <summary>#23 point 3: arrows only downward. Each namespace of the engine uses only its own layer and those below it
/// (<see cref="Layers.Engine"/>); the check is itself tested on a planted upward reference.</summary>
public sealed class LayeringTests
{
    private static readonly Type[] s_assemblies =
    [
        typeof(Vk.Vulkan.GpuContext), typeof(Vk.Reference.Nmse), typeof(Vk.Generation.HunyuanEngine), typeof(Vk.Server.OpenAiServer), typeof(Vk.Cli.Program),
    ];

    [TestCaseSource(nameof(s_assemblies))]
    public void No_namespace_uses_one_above_it(Type anchor)
    {
        List<string> upward = Layers.UpwardReferences(anchor.Assembly.Location, Layers.Engine, "Hunyuan.Vk");
        Assert.That(upward, Is.Empty, $"{anchor.Assembly.GetName().Name}: upward references:\n" + string.Join('\n', upward));
    }

    /// <summary>The check finds what it is for: in this test assembly, Fixtures.Lower uses Fixtures.Upper.</summary>
    [Test]
    public void The_check_reports_an_upward_reference_and_a_namespace_in_no_layer()
    {
        string[] layers = ["Hunyuan.Vk.Tests.Architecture.Fixtures.Lower", "Hunyuan.Vk.Tests.Architecture.Fixtures.Upper"];
        List<string> found = Layers.UpwardReferences(typeof(LayeringTests).Assembly.Location, layers, "Hunyuan.Vk.Tests.Architecture.Fixtures");
        Assert.That(found, Has.Some.StartsWith("Hunyuan.Vk.Tests.Architecture.Fixtures.Lower -> Hunyuan.Vk.Tests.Architecture.Fixtures.Upper"));
        Assert.That(found, Has.None.StartsWith("Hunyuan.Vk.Tests.Architecture.Fixtures.Upper ->"), "downward is allowed");
        Assert.That(found, Has.Some.Contains("namespace Hunyuan.Vk.Tests.Architecture.Fixtures.Elsewhere is in no layer"));
    }
}
