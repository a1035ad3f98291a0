using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Generation;

/// <summary>
/// Closes the model's thought after <c>budget</c> tokens of reasoning: counts the generated tokens until the model
/// ends its reasoning itself (one of the reply parser's <see cref="ChatOutputParser.ReasoningEnds"/> appears in the
/// text), and when the budget is spent first, gives the ids of <see cref="TextGenerator.CloseThought"/> to feed as if
/// generated.
/// </summary>
internal sealed class ThinkBudget(HunyuanTokenizer tokenizer, int budget)
{
    private static readonly int s_longestTag = ChatOutputParser.ReasoningEnds.Max(t => t.Length);
    private readonly TokenDecoder _decoder = tokenizer.CreateDecoder(skipSpecial: true);
    private string _tail = string.Empty;   // the text's last characters: one short of the longest tag
    private int _thinking;

    /// <summary>Whether the reasoning has ended (by the model, or by the budget).</summary>
    public bool Spent { get; private set; }

    /// <summary>Notes a generated token; returns the ids that close the thought when this token spends the budget.</summary>
    public IReadOnlyList<int> Next(int token)
    {
        if (Spent)
        {
            return [];
        }

        // A tag this token completed lies in its text and the characters before it.
        string window = _tail + _decoder.Push(token);
        _tail = window[Math.Max(0, window.Length - (s_longestTag - 1))..];
        if (ChatOutputParser.ReasoningEnds.Any(tag => window.Contains(tag, StringComparison.Ordinal)))
        {
            Spent = true;
            return [];
        }

        if (++_thinking < budget)
        {
            return [];
        }

        Spent = true;
        return tokenizer.Encode(TextGenerator.CloseThought);
    }
}
