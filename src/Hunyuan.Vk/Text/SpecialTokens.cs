using System.Globalization;
using System.Text.Json;

namespace Hunyuan.Vk.Text;

/// <summary>
/// The 210 special tokens of Hunyuan's tokenizer (docs/model.md, "Tokenizer"): five named ones then
/// <c>&lt;|extra_0|&gt;</c> ... <c>&lt;|extra_204|&gt;</c>, numbered in that order from <see cref="First"/>. As the release's
/// tokenizer (tokenization_hy.py) numbers them, <see cref="First"/> is the rank file's rank count (127957 with the
/// release's <c>hy.tiktoken</c>), unless the model's <c>tokenizer_config.json</c> names their ids.
/// </summary>
public sealed class SpecialTokens
{
    /// <summary>How many special tokens there are.</summary>
    public const int Count = 210;

    /// <summary>The first special id of the release: its rank file has 127957 ranks.</summary>
    public const int ReleaseFirst = 127957;

    private static readonly string[] s_named = ["<|endoftext|>", "<|startoftext|>", "<|bos|>", "<|eos|>", "<|pad|>"];
    private readonly Dictionary<string, int> _byText;

    public SpecialTokens(int first)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(first);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(first, int.MaxValue - Count);
        First = first;
        _byText = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Count; i++)
        {
            _byText[TextAt(i)] = first + i;
        }
    }

    /// <summary>The special tokens at the release's ids.</summary>
    public static SpecialTokens Release { get; } = new(ReleaseFirst);

    /// <summary>The id of <c>&lt;|endoftext|&gt;</c>, the first special token.</summary>
    public int First { get; }

    /// <summary>One past the last special id: the vocabulary the tokenizer can produce.</summary>
    public int End => First + Count;

    public int EndOfText => First;          // <|endoftext|>
    public int StartOfText => First + 1;    // <|startoftext|>: turn start in the chat template
    public int Bos => First + 2;            // <|bos|>: unused by the template
    public int Eos => First + 3;            // <|eos|>: end of an assistant turn; stop
    public int Pad => First + 4;            // <|pad|>
    public int Extra0 => First + 5;         // <|extra_0|>: end of a user or tool turn
    public int Extra4 => First + 9;         // <|extra_4|>: end of the system prompt
    public int Extra5 => First + 10;        // <|extra_5|>: eod; stop

    /// <summary>Special token text -> id.</summary>
    public IReadOnlyDictionary<string, int> ById => _byText;

    public bool Contains(int id) => id >= First && id < End;

    /// <summary>The text of the special token <paramref name="id"/>.</summary>
    public string Text(int id) => Contains(id)
        ? TextAt(id - First)
        : throw new ArgumentOutOfRangeException(nameof(id), $"Token id {id} is not a special token ({First}..{End - 1})");

    /// <summary>The text of the special token at <paramref name="index"/> in the order they are numbered.</summary>
    public static string TextAt(int index) => index < s_named.Length
        ? s_named[index]
        : "<|extra_" + (index - s_named.Length).ToString(CultureInfo.InvariantCulture) + "|>";

    /// <summary>
    /// The special tokens of a model whose rank file has <paramref name="rankCount"/> ranks: numbered from the rank count,
    /// or from where <c>tokenizer_config.json</c>'s <c>added_tokens_decoder</c> puts them when it names any (each named
    /// one must then sit at its place in the order, and none on a BPE rank).
    /// </summary>
    public static SpecialTokens ForModel(string? tokenizerConfigPath, int rankCount)
    {
        if (tokenizerConfigPath is null || !File.Exists(tokenizerConfigPath))
        {
            return new SpecialTokens(rankCount);
        }

        int? first = null;
        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllBytes(tokenizerConfigPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("added_tokens_decoder", out JsonElement added))
            {
                return new SpecialTokens(rankCount);
            }

            if (added.ValueKind != JsonValueKind.Object)
            {
                throw Bad(tokenizerConfigPath, "added_tokens_decoder is not an object of id: {\"content\": ...}");
            }

            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < Count; i++)
            {
                index[TextAt(i)] = i;
            }

            foreach (JsonProperty entry in added.EnumerateObject())
            {
                if (!int.TryParse(entry.Name, NumberStyles.None, CultureInfo.InvariantCulture, out int id)
                    || entry.Value.ValueKind != JsonValueKind.Object
                    || !entry.Value.TryGetProperty("content", out JsonElement content) || content.ValueKind != JsonValueKind.String)
                {
                    throw Bad(tokenizerConfigPath, $"added_tokens_decoder entry '{entry.Name}' is not id: {{\"content\": \"...\"}}");
                }

                string text = content.GetString()!;
                if (!index.TryGetValue(text, out int at))
                {
                    throw Bad(tokenizerConfigPath, $"added_tokens_decoder names {text} at {id}; Hunyuan's tokenizer has no such special token");
                }

                if (id - at < rankCount || (first is int f && f != id - at))
                {
                    throw Bad(tokenizerConfigPath, $"added_tokens_decoder puts {text} at {id}, which "
                        + (id - at < rankCount ? $"overlaps the rank file's {rankCount} ranks" : $"does not follow the others (they start at {first})"));
                }

                first = id - at;
            }
        }
        catch (JsonException e)
        {
            throw Bad(tokenizerConfigPath, "is not valid JSON: " + e.Message);
        }

        return new SpecialTokens(first ?? rankCount);
    }

    private static InvalidDataException Bad(string path, string what) => new($"{path}: {what}");
}
