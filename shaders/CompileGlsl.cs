// MSBuild task (compiled by RoslynCodeTaskFactory) behind shaders/Shaders.targets.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;

using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;

public class CompileGlsl : Task
{
    public ITaskItem[] Sources { get; set; }
    public string IncludeDir { get; set; }
    public string OutputDir { get; set; }
    public string Glslc { get; set; }
    public string TargetEnv { get; set; }
    public string GeneratedCode { get; set; }

    [Output]
    public ITaskItem[] Spirv { get; set; }

    private static readonly Regex s_diagnostic = new Regex(@"^(?<file>.+?):(?<line>\d+): (?<kind>error|warning): (?<msg>.*)$");

    public override bool Execute()
    {
        string glslc = FindGlslc();
        if (glslc == null)
        {
            Log.LogError("glslc (the shaderc GLSL compiler) was not found on PATH. Install the Debian package 'glslc' "
                + "(sudo apt-get install glslc), or set GLSLC=/path/to/glslc. See README.md.");
            return false;
        }

        Directory.CreateDirectory(OutputDir);
        var shaders = Sources.Select(s => Path.GetFullPath(s.ItemSpec)).OrderBy(s => s, StringComparer.Ordinal).ToArray();
        var stale = shaders.Where(IsStale).ToArray();
        var results = new (string Source, int Exit, string Output)[stale.Length];
        System.Threading.Tasks.Parallel.For(0, stale.Length, i => results[i] = Compile(glslc, stale[i]));

        bool ok = true;
        foreach (var (source, exit, output) in results)
        {
            foreach (string line in output.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0))
            {
                Match m = s_diagnostic.Match(line);
                bool error = exit != 0 && (!m.Success || m.Groups["kind"].Value == "error");
                string file = m.Success ? m.Groups["file"].Value : source;
                int lineNo = m.Success ? int.Parse(m.Groups["line"].Value) : 0;
                string msg = m.Success ? m.Groups["msg"].Value : line;
                if (error)
                    Log.LogError("glslc", "GLSL", null, file, lineNo, 0, 0, 0, msg);
                else
                    Log.LogWarning("glslc", "GLSL", null, file, lineNo, 0, 0, 0, msg);
            }
            if (exit != 0)
            {
                ok = false;
                File.Delete(SpvPath(source));
                File.Delete(DepPath(source));
                if (string.IsNullOrWhiteSpace(output))
                    Log.LogError("glslc", "GLSL", null, source, 0, 0, 0, 0, "glslc exited with code " + exit);
            }
            else
            {
                Log.LogMessage(MessageImportance.Normal, "glslc: " + Path.GetFileName(source) + " -> " + SpvPath(source));
            }
        }

        Spirv = shaders.Select(s => (ITaskItem)new TaskItem(SpvPath(s))).ToArray();
        WriteIfChanged(GeneratedCode, ShaderIdSource(shaders));
        return ok && !Log.HasLoggedErrors;
    }

    private string FindGlslc()
    {
        if (!string.IsNullOrEmpty(Glslc))
            return File.Exists(Glslc) ? Glslc : null;
        string path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (string dir in path.Split(Path.PathSeparator))
        {
            foreach (string name in new[] { "glslc", "glslc.exe" })
            {
                string candidate = Path.Combine(dir, name);
                if (File.Exists(candidate))
                    return candidate;
            }
        }
        return null;
    }

    private string SpvPath(string source) => Path.Combine(OutputDir, Path.GetFileNameWithoutExtension(source) + ".spv");
    private string DepPath(string source) => Path.Combine(OutputDir, Path.GetFileNameWithoutExtension(source) + ".d");

    // Stale when the .spv or the dependency file is missing, or any dependency is newer than the .spv.
    private bool IsStale(string source)
    {
        string spv = SpvPath(source), dep = DepPath(source);
        if (!File.Exists(spv) || !File.Exists(dep))
            return true;
        DateTime built = File.GetLastWriteTimeUtc(spv);
        var inputs = new List<string> { source };
        inputs.AddRange(ReadDependencies(dep));
        return inputs.Any(f => !File.Exists(f) || File.GetLastWriteTimeUtc(f) > built);
    }

    // glslc -MD writes make syntax: "out.spv: a.comp include/b.glsl \" with "\ " for spaces in names.
    private static IEnumerable<string> ReadDependencies(string depFile)
    {
        string text = File.ReadAllText(depFile).Replace("\\\r\n", " ").Replace("\\\n", " ");
        int colon = text.IndexOf(": ", StringComparison.Ordinal);
        if (colon < 0)
            yield break;
        string body = text.Substring(colon + 2).Replace("\\ ", "\u0001");
        foreach (string part in body.Split(new[] { ' ', '\t', '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries))
            yield return Path.GetFullPath(part.Replace('\u0001', ' '));
    }

    private (string, int, string) Compile(string glslc, string source)
    {
        var psi = new ProcessStartInfo(glslc)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        psi.Arguments = string.Join(" ", new[]
        {
            "--target-env=" + TargetEnv, "-O", "-Werror", "-I", IncludeDir,
            "-MD", "-MF", DepPath(source), "-o", SpvPath(source), source,
        }.Select(Quote));
        using var p = Process.Start(psi);
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (source, p.ExitCode, stdout.Result + stderr);
    }

    // netstandard2.0 (what inline tasks compile against) has no ArgumentList.
    private static string Quote(string arg) =>
        arg.IndexOfAny(new[] { ' ', '"', '\'' }) < 0 ? arg : "\"" + arg.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";

    private static string ShaderIdSource(string[] shaders)
    {
        var sb = new StringBuilder();
        sb.Append("// <auto-generated>Written by shaders/Shaders.targets from shaders/*.comp.</auto-generated>\n");
        sb.Append("namespace Hunyuan.Vk.Kernels;\n\n");
        sb.Append("/// <summary>Every compute shader of shaders/, one member per .comp file.</summary>\n");
        sb.Append("public enum ShaderId\n{\n");
        foreach (string s in shaders)
            sb.Append("    /// <summary>shaders/").Append(Path.GetFileName(s)).Append("</summary>\n    ")
              .Append(PascalCase(Path.GetFileNameWithoutExtension(s))).Append(",\n");
        sb.Append("}\n\n");
        sb.Append("public static partial class ShaderLibrary\n{\n");
        sb.Append("    private static readonly string[] s_fileNames =\n    [\n");
        foreach (string s in shaders)
            sb.Append("        \"").Append(Path.GetFileNameWithoutExtension(s)).Append("\",\n");
        sb.Append("    ];\n}\n");
        return sb.ToString();
    }

    private static string PascalCase(string name) =>
        string.Concat(name.Split(new[] { '_', '-', '.' }, StringSplitOptions.RemoveEmptyEntries)
            .Select(w => char.ToUpperInvariant(w[0]) + w.Substring(1)));

    private static void WriteIfChanged(string path, string text)
    {
        if (File.Exists(path) && File.ReadAllText(path) == text)
            return;
        Directory.CreateDirectory(Path.GetDirectoryName(path));
        File.WriteAllText(path, text);
    }
}
