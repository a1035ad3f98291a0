using System.CommandLine;
using System.Text.Json;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Cli.Commands;

/// <summary><c>hyvk tokenize</c>: text to token ids (one JSON array per input), or ids back to text.</summary>
internal static class TokenizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model directory (its hy.tiktoken is used)", Required = true };
        var text = new Option<string?>("--text") { Description = "Text to encode (or, with --decode, ids: JSON array or comma-separated)" };
        var file = new Option<string?>("--file") { Description = "File to encode, one JSON array per line (lines split on \\n only)" };
        var allowSpecial = new Option<bool>("--allow-special") { Description = "Recognise special tokens like <|eos|> in the text" };
        var decode = new Option<bool>("--decode") { Description = "Read token ids and print their text" };
        var command = new Command("tokenize", "Encode text to token ids as JSON, or decode ids to text");
        foreach (Option o in new Option[] { model, text, file, allowSpecial, decode })
        {
            command.Options.Add(o);
        }

        command.Validators.Add(result =>
        {
            if ((result.GetValue(text) is null) == (result.GetValue(file) is null))
            {
                result.AddError("Give exactly one of --text or --file.");
            }
        });
        command.SetAction(parse => CliErrors.Run(() => Run(
            parse.GetValue(model)!, parse.GetValue(text), parse.GetValue(file), parse.GetValue(allowSpecial), parse.GetValue(decode), Console.Out)));
        return command;
    }

    public static int Run(string model, string? text, string? file, bool allowSpecial, bool decode, TextWriter output)
    {
        HunyuanTokenizer tokenizer = HunyuanTokenizer.FromModelDirectory(model);
        if (file is not null && Directory.Exists(file))
        {
            throw new ArgumentException($"--file {file}: is a directory; name a text file");
        }

        string input = text ?? File.ReadAllText(file!);
        if (decode)
        {
            foreach (string line in (file is null ? [input] : input.Split('\n')).Where(l => l.Trim().Length > 0))
            {
                output.WriteLine(tokenizer.Decode(ParseIds(line)));
            }

            return 0;
        }

        IEnumerable<string> lines = file is null ? [input] : SplitLines(input);
        foreach (string line in lines)
        {
            output.WriteLine(JsonSerializer.Serialize(tokenizer.Encode(line, allowSpecial)));
        }

        return 0;
    }

    // Lines split on '\n' only ('\r' stays in its line); a final newline does not start an empty line.
    private static string[] SplitLines(string input)
    {
        string[] lines = input.Split('\n');
        return input.EndsWith('\n') ? lines[..^1] : lines;
    }

    private static int[] ParseIds(string line)
    {
        string trimmed = line.Trim();
        try
        {
            return trimmed.StartsWith('[')
                ? JsonSerializer.Deserialize<int[]>(trimmed) ?? []
                : trimmed.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is JsonException or FormatException or OverflowException)
        {
            throw new ArgumentException($"--decode: '{trimmed}' is not a list of token ids", e);
        }
    }
}
