using System.Globalization;

namespace Hunyuan.Vk.Text;

/// <summary>
/// The 210 special tokens of the Hunyuan tokenizer (spec 5.2): five named ones then <c>&lt;|extra_0|&gt;</c> ...
/// <c>&lt;|extra_204|&gt;</c>, numbered from 127957 right after the 127957 BPE ranks.
/// </summary>
public static class SpecialTokens
{
    public const int First = 127957;
    public const int Count = 210;

    public const int EndOfText = 127957;      // <|endoftext|>
    public const int StartOfText = 127958;    // <|startoftext|>: turn start in the chat template
    public const int Bos = 127959;            // <|bos|>: unused by the template
    public const int Eos = 127960;            // <|eos|>: end of an assistant turn; stop
    public const int Pad = 127961;            // <|pad|>
    public const int Extra0 = 127962;         // <|extra_0|>: end of a user or tool turn
    public const int Extra4 = 127966;         // <|extra_4|>: end of the system prompt
    public const int Extra5 = 127967;         // <|extra_5|>: eod; stop

    private static readonly string[] s_named = ["<|endoftext|>", "<|startoftext|>", "<|bos|>", "<|eos|>", "<|pad|>"];

    /// <summary>Special token text -> id.</summary>
    public static IReadOnlyDictionary<string, int> ById { get; } = Build();

    public static string Text(int id) => id < First + s_named.Length
        ? s_named[id - First]
        : "<|extra_" + (id - First - s_named.Length).ToString(CultureInfo.InvariantCulture) + "|>";

    private static Dictionary<string, int> Build()
    {
        var map = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = First; id < First + Count; id++)
        {
            map[Text(id)] = id;
        }

        return map;
    }
}
