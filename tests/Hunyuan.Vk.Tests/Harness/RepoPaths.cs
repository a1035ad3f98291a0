namespace Hunyuan.Vk.Tests.Harness;

/// <summary>Paths in the source tree, found by walking up from the test assembly to Hunyuan.Vk.sln.</summary>
public static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>../shared beside the checkout (docs, the real tokenizer), or null where it is absent.</summary>
    public static string? Shared => Directory.Exists(Path.Combine(Root, "..", "shared")) ? Path.GetFullPath(Path.Combine(Root, "..", "shared")) : null;

    private static string FindRoot()
    {
        for (string? dir = TestContext.CurrentContext.TestDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            if (File.Exists(Path.Combine(dir, "Hunyuan.Vk.sln")))
            {
                return dir;
            }
        }

        throw new DirectoryNotFoundException("Hunyuan.Vk.sln not found above " + TestContext.CurrentContext.TestDirectory);
    }
}
