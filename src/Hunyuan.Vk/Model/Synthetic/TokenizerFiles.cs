using System.IO.Compression;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Model.Synthetic;

/// <summary>
/// The tokenizer files of a generated model: <c>hy.tiktoken</c> (the given rank file, or cl100k_base from
/// Microsoft.ML.Tokenizers.Data.Cl100kBase so a fresh machine can make a working demo model; Hunyuan's ranks 0..100255
/// look like cl100k's) and a <c>tokenizer_config.json</c> naming the special tokens and their ids: after the given file's
/// last rank, as the release's tokenizer numbers them, or at the release's ids (from 127957) with cl100k_base.
/// </summary>
public static class TokenizerFiles
{
    /// <summary>The special tokens of the tokenizer made from <paramref name="rankFile"/> (null: the demo's cl100k_base);
    /// a rank file is read and checked here, before anything is written.</summary>
    public static SpecialTokens SpecialTokensOf(string? rankFile) => rankFile is null
        ? SpecialTokens.Release
        : HunyuanTokenizer.FromRankFile(File.Exists(rankFile) ? rankFile : throw new FileNotFoundException($"{rankFile}: tokenizer rank file not found", rankFile)).Special;

    public static void Write(string directory, string? rankFile, SpecialTokens special)
    {
        ArgumentNullException.ThrowIfNull(special);
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
            ["added_tokens_decoder"] = AddedTokens(special),
            ["rank_source"] = rankFile is null ? "cl100k_base (demo tokenizer: Hunyuan's special tokens at their real ids)" : Path.GetFileName(rankFile),
        };
        File.WriteAllText(Path.Combine(directory, "tokenizer_config.json"), config.ToJsonString(new() { WriteIndented = true }));
    }

    private static JsonObject AddedTokens(SpecialTokens special)
    {
        var added = new JsonObject();
        for (int id = special.First; id < special.End; id++)
        {
            added[id.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
            {
                ["content"] = special.Text(id), ["lstrip"] = false, ["normalized"] = false, ["rstrip"] = false,
                ["single_word"] = false, ["special"] = true,
            };
        }

        return added;
    }
}
