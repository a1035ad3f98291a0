using Hunyuan.Vk.Model.Synthetic;

namespace Hunyuan.Vk.Cli;

/// <summary>
/// The model used when no --model is given: a small random checkpoint in the real layout (make-model's "small" preset,
/// seed 1, untied lm_head), written once to ~/.cache/hyvk/demo-small-untied-2 (-2: its tokenizer_config.json names
/// the special tokens' ids, which an older demo model's did not). Its weights are random, so its text is
/// gibberish: it shows the engine working end to end on a machine with no downloaded model. (With A13B's tied head a
/// random model just repeats the prompt's last token, a special one, and prints nothing.)
/// </summary>
internal static class DemoModel
{
    public static string Directory => Path.Combine(
        Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } cache ? cache : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"),
        "hyvk", "demo-small-untied-2");

    public static string EnsureExists(Action<string> progress)
    {
        string dir = Directory;
        if (!File.Exists(Path.Combine(dir, "config.json")))
        {
            progress($"no --model: making the random demo model in {dir} (once)");
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(dir)!);
            new CheckpointGenerator(new GeneratorOptions { Preset = ModelPreset.Small, Seed = 1, TieEmbeddings = false }).Write(dir, progress);
        }

        return dir;
    }
}
