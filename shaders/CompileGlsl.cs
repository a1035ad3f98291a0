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
    public string VariantList { get; set; }
    public string LimitsFile { get; set; }

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
        var variants = WriteVariantStubs();
        if (variants == null)
            return false;
        var shaders = Sources.Select(s => Path.GetFullPath(s.ItemSpec)).Concat(variants.Keys)
            .OrderBy(s => Path.GetFileName(s), StringComparer.Ordinal).ToArray();
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
        var limits = ReadLimits();
        if (limits == null)
            return false;
        WriteIfChanged(GeneratedCode, ShaderIdSource(shaders, variants) + LimitsSource(limits));
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

    private static string ShaderIdSource(string[] shaders, Dictionary<string, string> variants)
    {
        var sb = new StringBuilder();
        sb.Append("// <auto-generated>Written by shaders/Shaders.targets from shaders/*.comp and shaders/variants.txt.</auto-generated>\n");
        sb.Append("namespace Hunyuan.Vk.Kernels;\n\n");
        sb.Append("/// <summary>Every compute shader of shaders/: one member per .comp file and per line and format of variants.txt.</summary>\n");
        sb.Append("internal enum ShaderId\n{\n");
        foreach (string s in shaders)
            sb.Append("    /// <summary>").Append(variants.TryGetValue(s, out string what) ? what : "shaders/" + Path.GetFileName(s)).Append("</summary>\n    ")
              .Append(PascalCase(Path.GetFileNameWithoutExtension(s))).Append(",\n");
        sb.Append("}\n\n");
        sb.Append("internal static partial class ShaderLibrary\n{\n");
        sb.Append("    private static readonly string[] s_fileNames =\n    [\n");
        foreach (string s in shaders)
            sb.Append("        \"").Append(Path.GetFileNameWithoutExtension(s)).Append("\",\n");
        sb.Append("    ];\n}\n");
        return sb.ToString();
    }

    // variants.txt: "formats f32 q4 ..." then "NAME INCLUDE [DEFINE...]" per kernel; '#' starts a comment. Writes one
    // stub per kernel and format under OutputDir/gen (only when its text changes, so incremental builds stay quiet) and
    // returns stub path -> what it is; null after logging an error.
    private Dictionary<string, string> WriteVariantStubs()
    {
        var stubs = new Dictionary<string, string>();
        if (string.IsNullOrEmpty(VariantList) || !File.Exists(VariantList))
            return stubs;
        string[] formats = null;
        var kernels = new List<(string Name, string Include, string[] Defines, int Line)>();
        string[] lines = File.ReadAllLines(VariantList);
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i];
            int hash = line.IndexOf('#');
            string[] words = (hash >= 0 ? line.Substring(0, hash) : line).Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 0)
                continue;
            if (words[0] == "formats")
                formats = words.Skip(1).ToArray();
            else if (words.Length >= 2)
                kernels.Add((words[0], words[1], words.Skip(2).ToArray(), i + 1));
            else
            {
                Log.LogError("glslc", "GLSL", null, VariantList, i + 1, 0, 0, 0, "expected 'formats SUFFIX...' or 'NAME INCLUDE [DEFINE...]'");
                return null;
            }
        }

        if (kernels.Count > 0 && (formats == null || formats.Length == 0))
        {
            Log.LogError("glslc", "GLSL", null, VariantList, 0, 0, 0, 0, "no 'formats' line: which weight formats are the kernels built for?");
            return null;
        }

        string dir = Path.Combine(OutputDir, "gen");
        Directory.CreateDirectory(dir);
        foreach (var (name, include, defines, line) in kernels)
        {
            if (!File.Exists(Path.Combine(IncludeDir, include)))
            {
                Log.LogError("glslc", "GLSL", null, VariantList, line, 0, 0, 0, "include/" + include + " does not exist");
                return null;
            }

            foreach (string format in formats)
            {
                string upper = format.ToUpperInvariant();
                string modes = defines.Length == 0 ? "" : " (" + string.Join(", ", defines) + ")";
                var text = new StringBuilder();
                text.Append("#version 450\n// Generated from shaders/variants.txt: include/").Append(include).Append(" for ").Append(upper).Append(modes).Append(".\n");
                text.Append("#extension GL_GOOGLE_include_directive : require\n#define FORMAT_").Append(upper).Append('\n');
                foreach (string d in defines)
                    text.Append("#define ").Append(d).Append('\n');
                text.Append("#include \"").Append(include).Append("\"\n");
                string path = Path.GetFullPath(Path.Combine(dir, name + "_" + format + ".comp"));
                WriteIfChanged(path, text.ToString());
                stubs[path] = "shaders/include/" + include + " for " + upper + modes;
            }
        }

        return stubs;
    }

    // "#define NAME 123" lines of limits.glsl, as (PascalName, value); null after logging an error.
    private List<(string Name, string Value)> ReadLimits()
    {
        var limits = new List<(string, string)>();
        if (string.IsNullOrEmpty(LimitsFile) || !File.Exists(LimitsFile))
            return limits;
        var define = new Regex(@"^\s*#define\s+(?<name>[A-Z0-9_]+)\s+(?<value>\d+)u?\s*(//.*)?$");
        foreach (string line in File.ReadAllLines(LimitsFile))
        {
            Match m = define.Match(line);
            if (m.Success)
                limits.Add((PascalCase(m.Groups["name"].Value.ToLowerInvariant()), m.Groups["value"].Value));
        }

        return limits;
    }

    private static string LimitsSource(List<(string Name, string Value)> limits)
    {
        if (limits.Count == 0)
            return "";
        var sb = new StringBuilder();
        sb.Append("\n/// <summary>Sizes the shaders and the wrappers share: the #defines of shaders/include/limits.glsl.</summary>\n");
        sb.Append("internal static class ShaderLimits\n{\n");
        foreach (var (name, value) in limits)
            sb.Append("    public const int ").Append(name).Append(" = ").Append(value).Append(";\n");
        sb.Append("}\n");
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
