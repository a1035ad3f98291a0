using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Hunyuan.Vk.Text;

/// <summary>
/// Splits text into the pieces of Hunyuan's pre-tokenizer pattern (docs/model.md 5.3), walking Unicode code points rather than
/// UTF-16 units so characters outside the Basic Multilingual Plane are letters and digits as they are to tiktoken
/// (.NET's Regex would miss them: docs/tokenizer.md). At each position the first alternative that matches wins:
/// <code>
/// 1 (?i:'s|'t|'re|'ve|'m|'ll|'d)     contractions
/// 2 [^\r\n\p{L}\p{N}]?\p{L}+         letters, with one optional leading non-letter, non-digit, non-newline
/// 3 \p{N}                            one digit
/// 4  ?[^\s\p{L}\p{N}]+[\r\n]*         punctuation run, optional leading space, trailing newlines
/// 5 \s*[\r\n]+                       whitespace up to its last newline
/// 6 \s+(?!\S)                        whitespace not followed by a non-space (leaves one space for the next piece)
/// 7 \s+                              other whitespace
/// </code>
/// Special tokens are not handled here: <see cref="HunyuanTokenizer"/> splits them out first.
/// </summary>
public sealed class HunyuanPreTokenizer : PreTokenizer
{
    public static HunyuanPreTokenizer Instance { get; } = new();

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Split(text ?? string.Empty);

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text.ToString());

    /// <summary>The pieces of <paramref name="text"/> as (offset, length) in UTF-16 units; they cover the text exactly.</summary>
    public static List<(int Offset, int Length)> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var pieces = new List<(int, int)>();
        int i = 0;
        while (i < text.Length)
        {
            int end = Match(text, i);
            pieces.Add((i, end - i));
            i = end;
        }

        return pieces;
    }

    private static int Match(string s, int i)
    {
        Rune c = At(s, i);
        int next = i + c.Utf16SequenceLength;

        // 1: contractions, case-insensitive (s also matches the long s U+017F, as Unicode case folding does).
        if (c.Value == '\'' && next < s.Length)
        {
            int end = Contraction(s, next);
            if (end > 0)
            {
                return end;
            }
        }

        // 2: letters with an optional leading non-letter, non-digit, non-newline.
        if (IsLetter(c))
        {
            return LetterRun(s, next);
        }

        if (!IsNumber(c) && c.Value != '\r' && c.Value != '\n' && next < s.Length && IsLetter(At(s, next)))
        {
            return LetterRun(s, next + At(s, next).Utf16SequenceLength);
        }

        // 3: a single digit.
        if (IsNumber(c))
        {
            return next;
        }

        // 4: optional space, a run of "other" characters, trailing newlines.
        int start4 = c.Value == ' ' && next < s.Length && IsOther(At(s, next)) ? next : IsOther(c) ? i : -1;
        if (start4 >= 0)
        {
            int j = start4;
            while (j < s.Length && IsOther(At(s, j)))
            {
                j += At(s, j).Utf16SequenceLength;
            }

            while (j < s.Length && (s[j] == '\r' || s[j] == '\n'))
            {
                j++;
            }

            return j;
        }

        // Only whitespace is left (c is whitespace).
        int runEnd = i, lastNewline = -1;
        while (runEnd < s.Length && Rune.IsWhiteSpace(At(s, runEnd)))
        {
            if (s[runEnd] == '\r' || s[runEnd] == '\n')
            {
                lastNewline = runEnd;
            }

            runEnd += At(s, runEnd).Utf16SequenceLength;
        }

        // 5: whitespace up to and including its last newline.
        if (lastNewline >= 0)
        {
            return lastNewline + 1;
        }

        // 6: all of it at the end of the text, or all but its last character before a non-space.
        if (runEnd == s.Length)
        {
            return runEnd;
        }

        int last = runEnd - LastRuneLength(s, runEnd);
        return last > i ? last : runEnd;   // 7 when only one character: the whole run
    }

    private static int Contraction(string s, int at)
    {
        static bool Is(string s, int at, char lower) =>
            at < s.Length && (char.ToLowerInvariant(s[at]) == lower || (lower == 's' && s[at] == '\u017F'));

        if (Is(s, at, 's') || Is(s, at, 't') || Is(s, at, 'm') || Is(s, at, 'd'))
        {
            return at + 1;
        }

        if ((Is(s, at, 'r') || Is(s, at, 'v')) && Is(s, at + 1, 'e'))
        {
            return at + 2;
        }

        return Is(s, at, 'l') && Is(s, at + 1, 'l') ? at + 2 : -1;
    }

    private static int LetterRun(string s, int j)
    {
        while (j < s.Length && IsLetter(At(s, j)))
        {
            j += At(s, j).Utf16SequenceLength;
        }

        return j;
    }

    private static Rune At(string s, int i) =>
        Rune.TryGetRuneAt(s, i, out Rune r) ? r : new Rune('\uFFFD');   // a lone surrogate: an "other" character

    private static int LastRuneLength(string s, int end) =>
        end >= 2 && char.IsSurrogatePair(s[end - 2], s[end - 1]) ? 2 : 1;

    private static bool IsLetter(Rune r) => Rune.GetUnicodeCategory(r) switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => true,
        _ => false,
    };

    private static bool IsNumber(Rune r) => Rune.GetUnicodeCategory(r) switch
    {
        UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => true,
        _ => false,
    };

    private static bool IsOther(Rune r) => !Rune.IsWhiteSpace(r) && !IsLetter(r) && !IsNumber(r);
}
