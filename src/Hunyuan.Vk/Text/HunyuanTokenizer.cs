using System.Text;
using Microsoft.ML.Tokenizers;

namespace Hunyuan.Vk.Text;

/// <summary>
/// Hunyuan's tokenizer (docs/model.md, "Tokenizer"): tiktoken byte-level BPE over the rank file <c>hy.tiktoken</c> with
/// whole-piece lookup before merges (Microsoft.ML.Tokenizers' Tiktoken), the pre-tokenizer pattern walked by code point
/// (<see cref="HunyuanPreTokenizer"/>), NFC normalisation, and the 210 special tokens after the ranks (<see
/// cref="SpecialTokens"/>: from id 127957 with the release's rank file). Special tokens are
/// recognised in text only when the caller allows it (chat templates do; user text does not). Decoding works on the raw
/// token bytes, so a character split across tokens is never garbled (see <see cref="TokenDecoder"/>).
/// </summary>
public sealed class HunyuanTokenizer
{
    public const string RankFileName = "hy.tiktoken";
    private readonly TiktokenTokenizer _bpe;
    private readonly byte[][] _bytes;

    private HunyuanTokenizer(TiktokenTokenizer bpe, byte[][] bytes, SpecialTokens special)
    {
        _bpe = bpe;
        _bytes = bytes;
        Special = special;
    }

    public const string ConfigFileName = "tokenizer_config.json";

    /// <summary>BPE ranks in the rank file.</summary>
    public int RankCount => _bytes.Length;

    /// <summary>The special tokens and their ids.</summary>
    public SpecialTokens Special { get; }

    /// <summary>Ids this tokenizer can give: up to its last special token.</summary>
    public int VocabSize => Special.End;

    /// <summary>Loads <c>hy.tiktoken</c> from a model directory, its special tokens numbered as its
    /// <c>tokenizer_config.json</c> says, or after the ranks when it does not.</summary>
    public static HunyuanTokenizer FromModelDirectory(string directory) =>
        FromRankFile(Path.Combine(directory, RankFileName), Path.Combine(directory, ConfigFileName));

    /// <summary>Loads a rank file; the special tokens follow its last rank unless <paramref name="tokenizerConfig"/>
    /// (a <c>tokenizer_config.json</c>, used when it exists) names their ids.</summary>
    public static HunyuanTokenizer FromRankFile(string path, string? tokenizerConfig = null)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: the tokenizer's rank file is missing (a model directory ships {RankFileName})", path);
        }

        byte[][] bytes = ReadRanks(path);
        SpecialTokens special = SpecialTokens.ForModel(tokenizerConfig, bytes.Length);
        // The BPE is built from the ranks as read and checked here, not from the file again: what it reads is then
        // exactly what was checked (a blank line, say, cannot mean one thing here and another there).
        using var stream = new MemoryStream();
        using (var writer = new StreamWriter(stream, leaveOpen: true) { NewLine = "\n" })
        {
            for (int rank = 0; rank < bytes.Length; rank++)
            {
                writer.WriteLine(FormattableString.Invariant($"{Convert.ToBase64String(bytes[rank])} {rank}"));
            }
        }

        stream.Position = 0;
        TiktokenTokenizer bpe = TiktokenTokenizer.Create(stream, HunyuanPreTokenizer.Instance, normalizer: null,
            specialTokens: special.ById, cacheSize: 8192);
        return new HunyuanTokenizer(bpe, bytes, special);
    }

    /// <summary>Token ids of <paramref name="text"/>. With <paramref name="allowSpecial"/>, <c>&lt;|...|&gt;</c> strings of
    /// special tokens become their ids; otherwise they are encoded as ordinary text.</summary>
    public List<int> Encode(string text, bool allowSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        string nfc = text.Normalize(NormalizationForm.FormC);
        var ids = new List<int>(nfc.Length / 3 + 4);
        int gapStart = 0;
        if (allowSpecial)
        {
            for (int at = nfc.IndexOf("<|", StringComparison.Ordinal); at >= 0; at = nfc.IndexOf("<|", at + 1, StringComparison.Ordinal))
            {
                int close = nfc.IndexOf("|>", at + 2, StringComparison.Ordinal);
                if (close < 0)
                {
                    break;
                }

                if (Special.ById.TryGetValue(nfc[at..(close + 2)], out int id))
                {
                    EncodeOrdinary(nfc, gapStart, at, ids);
                    ids.Add(id);
                    gapStart = close + 2;
                    at = close + 1;
                }
            }
        }

        EncodeOrdinary(nfc, gapStart, nfc.Length, ids);
        return ids;
    }

    private void EncodeOrdinary(string text, int start, int end, List<int> ids)
    {
        if (end > start)
        {
            ids.AddRange(_bpe.EncodeToIds(text.AsSpan(start, end - start), considerPreTokenization: true, considerNormalization: false));
        }
    }

    /// <summary>The raw bytes of a token (the UTF-8 of the text for special tokens). An id inside the vocabulary that
    /// the rank file does not cover (a model whose vocabulary outgrows its tokenizer, as random ones with cl100k_base)
    /// reads as U+FFFD; ids outside the vocabulary throw.</summary>
    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        if (id >= 0 && id < _bytes.Length)
        {
            return _bytes[id];
        }

        if (Special.Contains(id))
        {
            return Encoding.UTF8.GetBytes(Special.Text(id));
        }

        if (id >= 0 && id < Special.First)
        {
            return "\uFFFD"u8;
        }

        throw new ArgumentOutOfRangeException(nameof(id), $"Token id {id} is outside the vocabulary (0..{VocabSize - 1})");
    }

    public bool IsSpecial(int id) => Special.Contains(id);

    /// <summary>Text of the ids: their bytes concatenated, decoded as UTF-8 with U+FFFD for invalid sequences.</summary>
    public string Decode(IEnumerable<int> ids, bool skipSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var bytes = new List<byte>();
        foreach (int id in ids)
        {
            if (!(skipSpecial && IsSpecial(id)))
            {
                bytes.AddRange(TokenBytes(id).ToArray());
            }
        }

        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>A decoder for streaming: text as tokens arrive, holding back a character until all its bytes are there.</summary>
    public TokenDecoder CreateDecoder(bool skipSpecial = false) => new(this, skipSpecial);

    private static byte[][] ReadRanks(string path)
    {
        var tokens = new List<byte[]>(128_000);
        var seen = new Dictionary<string, int>(128_000, StringComparer.Ordinal);   // base64 text -> rank
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            int space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || !int.TryParse(line.AsSpan(space + 1), out int rank) || rank != tokens.Count)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: expected 'base64 rank' with rank {tokens.Count}");
            }

            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(line[..space]);
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"{path}:{lineNumber}: the token is not base64", e);
            }

            // The same bytes at two ranks would make encoding depend on which one the merge table kept.
            string key = Convert.ToBase64String(bytes);
            if (!seen.TryAdd(key, rank))
            {
                throw new InvalidDataException($"{path}:{lineNumber}: rank {rank} has the same bytes as rank {seen[key]} ({key})");
            }

            tokens.Add(bytes);
        }

        if (tokens.Count == 0 || tokens.Count > SpecialTokens.ReleaseFirst)
        {
            throw new InvalidDataException($"{path}: {tokens.Count} ranks; Hunyuan's tokenizer has at most {SpecialTokens.ReleaseFirst} before its special tokens");
        }

        // Byte-level BPE starts every word from its single bytes: without one, text holding that byte cannot be encoded.
        for (int b = 0; b < 256; b++)
        {
            if (!seen.ContainsKey(Convert.ToBase64String([(byte)b])))
            {
                throw new InvalidDataException($"{path}: no rank for the single byte 0x{b:X2}; a byte-level tokenizer needs all 256, or text holding that byte cannot be encoded");
            }
        }

        return [.. tokens];
    }
}
