using System.Text;

namespace Hunyuan.Vk.Text;

/// <summary>
/// Streaming detokenizer: <see cref="Push"/> takes one token and returns the text that is now complete. Bytes of a
/// UTF-8 character split across tokens wait until the character is whole; <see cref="Flush"/> returns what is left
/// (with U+FFFD for an incomplete character).
/// </summary>
public sealed class TokenDecoder
{
    private readonly HunyuanTokenizer _tokenizer;
    private readonly bool _skipSpecial;
    private readonly Decoder _utf8 = new UTF8Encoding(false, false).GetDecoder();
    private readonly char[] _chars = new char[64];

    internal TokenDecoder(HunyuanTokenizer tokenizer, bool skipSpecial)
    {
        _tokenizer = tokenizer;
        _skipSpecial = skipSpecial;
    }

    public string Push(int id)
    {
        if (_skipSpecial && _tokenizer.IsSpecial(id))
        {
            return string.Empty;
        }

        ReadOnlySpan<byte> bytes = _tokenizer.TokenBytes(id);
        var text = new StringBuilder();
        while (true)
        {
            _utf8.Convert(bytes, _chars, flush: false, out int used, out int written, out bool completed);
            text.Append(_chars, 0, written);
            bytes = bytes[used..];
            if (completed || bytes.IsEmpty)
            {
                return text.ToString();
            }
        }
    }

    public string Flush()
    {
        _utf8.Convert(ReadOnlySpan<byte>.Empty, _chars, flush: true, out _, out int written, out _);
        return new string(_chars, 0, written);
    }
}
