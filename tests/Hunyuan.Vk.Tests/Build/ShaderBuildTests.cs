using System.Diagnostics;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Build;

/// <summary>
/// The shader build (shaders/Shaders.targets) on a scratch project: incremental with #include tracking, glslc's
/// message on a shader error, and the package name when glslc is missing. Each case runs MSBuild (a few seconds).
/// </summary>
[Category("Build")]
[NonParallelizable]
public sealed class ShaderBuildTests
{
    private string _dir = string.Empty;

    [SetUp]
    public void MakeScratchProject()
    {
        _dir = Directory.CreateTempSubdirectory("hyvk-shaders-").FullName;
        Directory.CreateDirectory(Path.Combine(_dir, "shaders", "include"));
        string targets = Path.Combine(RepoPaths.Root, "shaders", "Shaders.targets");
        File.WriteAllText(Path.Combine(_dir, "scratch.proj"), $"""
            <Project>
              <PropertyGroup>
                <ShaderDir>{_dir}/shaders/</ShaderDir>
                <ProjectDir>{_dir}/</ProjectDir>
                <IntermediateOutputPath>obj/</IntermediateOutputPath>
              </PropertyGroup>
              <Import Project="{targets}" />
            </Project>
            """);
        File.WriteAllText(Path.Combine(_dir, "shaders", "include", "two.glsl"), "const float TWO = 2.0;\n");
        WriteShader("uses_include", "#extension GL_GOOGLE_include_directive : require\n#include \"two.glsl\"\n", "TWO");
        WriteShader("standalone", string.Empty, "1.0");
    }

    [TearDown]
    public void RemoveScratchProject() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void Recompiles_only_what_changed_including_through_includes()
    {
        Assert.That(Build().Exit, Is.Zero);
        string generated = File.ReadAllText(Obj("ShaderId.g.cs"));
        Assert.That(generated, Does.Contain("UsesInclude,").And.Contain("Standalone,"));
        DateTime included = File.GetLastWriteTimeUtc(Obj("shaders/uses_include.spv"));
        DateTime standalone = File.GetLastWriteTimeUtc(Obj("shaders/standalone.spv"));

        Thread.Sleep(1100);   // file times on some file systems have one-second resolution
        Assert.That(Build().Exit, Is.Zero);
        Assert.That(File.GetLastWriteTimeUtc(Obj("shaders/uses_include.spv")), Is.EqualTo(included), "nothing changed: no recompile");

        File.WriteAllText(Path.Combine(_dir, "shaders", "include", "two.glsl"), "const float TWO = 2.5;\n");
        Assert.That(Build().Exit, Is.Zero);
        Assert.That(File.GetLastWriteTimeUtc(Obj("shaders/uses_include.spv")), Is.GreaterThan(included), "its include changed");
        Assert.That(File.GetLastWriteTimeUtc(Obj("shaders/standalone.spv")), Is.EqualTo(standalone), "unrelated to the include");
    }

    [Test]
    public void A_shader_error_fails_the_build_with_glslcs_message()
    {
        File.WriteAllText(Path.Combine(_dir, "shaders", "broken.comp"), "#version 450\nlayout(local_size_x = 1) in;\nvoid main() { undefined_thing = 1; }\n");
        (int exit, string output) = Build();
        Assert.That(exit, Is.Not.Zero);
        Assert.That(output, Does.Contain("broken.comp(3").And.Contain("undefined_thing"));
        Assert.That(File.Exists(Obj("shaders/broken.spv")), Is.False, "no half-written output");
    }

    [Test]
    public void A_missing_glslc_names_the_package()
    {
        (int exit, string output) = Build("-p:GlslcPath=/nonexistent/glslc");
        Assert.That(exit, Is.Not.Zero);
        Assert.That(output, Does.Contain("apt-get install glslc"));
    }

    private void WriteShader(string name, string header, string value) =>
        File.WriteAllText(Path.Combine(_dir, "shaders", name + ".comp"), $$"""
            #version 450
            {{header}}
            layout(local_size_x = 1) in;
            layout(std430, binding = 0) writeonly buffer O { float o[]; };
            void main() { o[0] = {{value}}; }
            """);

    private string Obj(string relative) => Path.Combine(_dir, "obj", relative);

    private (int Exit, string Output) Build(params string[] extra)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = _dir,
        };
        foreach (string a in new[] { "msbuild", "scratch.proj", "-t:CompileShaders", "-nologo", "-v:m", "-nodeReuse:false" }.Concat(extra))
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout.Result + stderr);
    }
}
