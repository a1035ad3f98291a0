using System.IO.Compression;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Model.Synthetic;

/// <summary>
/// The tokenizer files of a generated model: <c>hy.tiktoken</c> (the given rank file, or cl100k_base from
/// Microsoft.ML.Tokenizers.Data.Cl100kBase so a fresh machine can make a working demo model; Hunyuan's ranks 0..100255
/// look like cl100k's, spec 5.1) and a <c>tokenizer_config.json</c> naming the special tokens.
/// </summary>
public static class TokenizerFiles
{
    public static void Write(string directory, string? rankFile)
    {
        string target = Path.Combine(directory, HunyuanTokenizer.RankFileName);
        if (rankFile is not null)
        {
            if (!File.Exists(rankFile))
            {
                throw new FileNotFoundException($"{rankFile}: tokenizer rank file not found", rankFile);
            }

            File.Copy(rankFile, target);
        }
        else
        {
            using Stream deflated = System.Reflection.Assembly.Load("Microsoft.ML.Tokenizers.Data.Cl100kBase").GetManifestResourceStream("cl100k_base.tiktoken.deflate")
                ?? throw new InvalidOperationException("cl100k_base.tiktoken.deflate is missing from Microsoft.ML.Tokenizers.Data.Cl100kBase");
            // The package stores "Capacity: N" and then one base64 token per line, its rank being its line number;
            // write the standard tiktoken form, "base64 rank" per line.
            using var reader = new StreamReader(new DeflateStream(deflated, CompressionMode.Decompress));
            using var output = new StreamWriter(target) { NewLine = "\n" };
            int rank = 0;
            for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
            {
                if (line.Length > 0 && !line.StartsWith("Capacity:", StringComparison.Ordinal))
                {
                    output.WriteLine(FormattableString.Invariant($"{line} {rank++}"));
                }
            }
        }

        var config = new JsonObject
        {
            ["tokenizer_class"] = "HYTokenizer",
            ["vocab_file"] = HunyuanTokenizer.RankFileName,
            ["eos_token"] = "<|eos|>",
            ["pad_token"] = "<|pad|>",
            ["additional_special_tokens"] = new JsonArray("<|startoftext|>", "<|extra_0|>", "<|extra_4|>", "<|extra_5|>", "<|eos|>"),
            ["model_max_length"] = 262144,
            ["rank_source"] = rankFile is null ? "cl100k_base (demo tokenizer: Hunyuan's special tokens at their real ids)" : Path.GetFileName(rankFile),
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(new() { WriteIndented = true }));
    }
}
