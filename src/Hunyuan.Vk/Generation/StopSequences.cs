namespace Hunyuan.Vk.Generation;

/// <summary>
/// Watches streamed answer text for stop sequences: text that could still be the start of one is held back, so a
/// reader never sees any part of a sequence that then matched; what comes before a match is let through.
/// </summary>
internal sealed class StopSequences(IReadOnlyList<string>? sequences)
{
    private readonly string[] _sequences = [.. (sequences ?? []).Where(s => !string.IsNullOrEmpty(s))];
    private string _held = string.Empty;

    /// <summary>Adds text; returns what is safe to show and whether a stop sequence was found (nothing after it shows).</summary>
    public (string Text, bool Stopped) Push(string text)
    {
        if (_sequences.Length == 0)
        {
            return (text, false);
        }

        string s = _held + text;
        int first = -1;
        foreach (string seq in _sequences)
        {
            int at = s.IndexOf(seq, StringComparison.Ordinal);
            if (at >= 0 && (first < 0 || at < first))
            {
                first = at;
            }
        }

        if (first >= 0)
        {
            _held = string.Empty;
            return (s[..first], true);
        }

        // Hold the longest tail that is a proper prefix of some sequence.
        int hold = 0;
        foreach (string seq in _sequences)
        {
            for (int n = Math.Min(seq.Length - 1, s.Length); n > hold; n--)
            {
                if (s.AsSpan(s.Length - n).SequenceEqual(seq.AsSpan(0, n)))
                {
                    hold = n;
                    break;
                }
            }
        }

        _held = s[(s.Length - hold)..];
        return (s[..(s.Length - hold)], false);
    }

    /// <summary>The reply ended without a match: what was held back.</summary>
    public string Flush()
    {
        string held = _held;
        _held = string.Empty;
        return held;
    }
}
