using Hunyuan.Vk.Tests.Harness;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Tests.Text;

/// <summary>The tokenizer against the vectors of docs/model.md 5.2 and 5.4, on the real hy.tiktoken.</summary>
public sealed class TokenizerTests
{
    private static HunyuanTokenizer? s_tokenizer;

    private static HunyuanTokenizer Tokenizer => s_tokenizer ??= HunyuanTokenizer.FromRankFile(TestModels.RealRankFile);

    /// <summary>#23 point 7: special ids follow the ranks, or sit where tokenizer_config.json's added_tokens_decoder puts
    /// them; a config that puts one on a BPE rank, out of order, or names an unknown token is refused naming it.</summary>
    [Test]
    public void Special_token_ids_come_from_the_rank_count_or_the_tokenizer_config()
    {
        string dir = Directory.CreateTempSubdirectory("hyvk-special-").FullName;
        try
        {
            string config = Path.Combine(dir, "tokenizer_config.json");
            Assert.That(SpecialTokens.ForModel(config, 814).First, Is.EqualTo(814), "no file: after the ranks");
            File.WriteAllText(config, """{"eos_token": "<|eos|>"}""");
            Assert.That(SpecialTokens.ForModel(config, 814).Eos, Is.EqualTo(817), "no added_tokens_decoder: after the ranks");
            File.WriteAllText(config, """{"added_tokens_decoder": {"2003": {"content": "<|eos|>"}, "2005": {"content": "<|extra_0|>"}}}""");
            SpecialTokens named = SpecialTokens.ForModel(config, 814);
            Assert.That((named.First, named.Eos, named.Extra0, named.Text(2209)), Is.EqualTo((2000, 2003, 2005, "<|extra_204|>")));
            foreach ((string json, string message) in new[]
            {
                ("""{"added_tokens_decoder": {"900": {"content": "<|eos|>"}}}""", "puts <|eos|> at 900, which overlaps the rank file's 1000 ranks"),
                ("""{"added_tokens_decoder": {"2003": {"content": "<|eos|>"}, "2006": {"content": "<|extra_0|>"}}}""", "puts <|extra_0|> at 2006, which does not follow the others (they start at 2000)"),
                ("""{"added_tokens_decoder": {"2003": {"content": "<|mine|>"}}}""", "names <|mine|> at 2003; Hunyuan's tokenizer has no such special token"),
                ("""{"added_tokens_decoder": {"x": {"content": "<|eos|>"}}}""", "entry 'x' is not id"),
            })
            {
                File.WriteAllText(config, json);
                Assert.That(() => SpecialTokens.ForModel(config, 1000), Throws.TypeOf<InvalidDataException>().With.Message.Contains("tokenizer_config.json: ").And.Message.Contains(message));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>#16: a rank file with the same bytes at two ranks is refused naming both (before: taken, so encoding
    /// depended on which rank the merge table kept); a rank out of order still names its line.</summary>
    [Test]
    public void A_rank_file_with_the_same_bytes_twice_is_refused()
    {
        string dir = Directory.CreateTempSubdirectory("hyvk-ranks-").FullName;
        try
        {
            string path = Path.Combine(dir, "hy.tiktoken");
            File.WriteAllLines(path, ["YQ== 0", "Yg== 1", "YQ== 2"]);   // a, b, a
            Assert.That(() => HunyuanTokenizer.FromRankFile(path), Throws.TypeOf<InvalidDataException>()
                .With.Message.Contains("hy.tiktoken:3: rank 2 has the same bytes as rank 0"));
            File.WriteAllLines(path, ["YQ== 0", "Yg== 5"]);
            Assert.That(() => HunyuanTokenizer.FromRankFile(path), Throws.TypeOf<InvalidDataException>().With.Message.Contains("hy.tiktoken:2: expected 'base64 rank' with rank 1"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void The_repository_copy_is_the_real_rank_file()
    {
        // RealRankFile checks the SHA-256 itself; where ../shared is beside the checkout, its copy must agree byte for byte.
        string path = TestModels.RealRankFile;
        Assert.That(new FileInfo(path).Length, Is.EqualTo(2_141_890));
        if (RepoPaths.Shared is string shared && File.Exists(Path.Combine(shared, "hunyuan-tokenizer", "hy.tiktoken")))
        {
            Assert.That(File.ReadAllBytes(path), Is.EqualTo(File.ReadAllBytes(Path.Combine(shared, "hunyuan-tokenizer", "hy.tiktoken"))));
        }
    }

    // Spec 5.4 (computed with a Python re-implementation; think/answer ids cross-checked with vLLM).
    [TestCase("Hello world", new[] { 9906, 1917 })]
    [TestCase("Hello world 12345", new[] { 9906, 1917, 220, 16, 17, 18, 19, 20 })]
    [TestCase("你好，世界", new[] { 109419, 3922, 100561 })]
    [TestCase("  leading spaces and\ttabs\n\nnewlines  ", new[] { 220, 6522, 12908, 323, 3324, 3518, 271, 943, 8128, 256 })]
    [TestCase("I'm don't WE'LL", new[] { 40, 2846, 1541, 956, 20255, 6, 4178 })]
    [TestCase("')|('", new[] { 112963 })]
    [TestCase("\u2581Abst", new[] { 113810 })]
    [TestCase("\u2581\u2234", new[] { 124142 })]
    // Spec 5.2: think/answer/tool tags are plain text.
    [TestCase("<think>\n", new[] { 14023, 771, 397 })]
    [TestCase("<think>\n\n", new[] { 14023, 771, 1363 })]
    [TestCase("\n</think>\n<answer>\n", new[] { 198, 524, 27963, 397, 27, 9399, 397 })]
    [TestCase("</think>\n<answer>\n", new[] { 524, 27963, 397, 27, 9399, 397 })]
    [TestCase("\n</answer>", new[] { 198, 524, 9399, 29 })]
    [TestCase("<tool_calls>", new[] { 27, 14506, 46736, 29 })]
    [TestCase("</tool_calls>", new[] { 524, 14506, 46736, 29 })]
    [TestCase("/no_think", new[] { 34200, 5978, 771 })]
    [TestCase("/think", new[] { 21071, 771 })]
    [TestCase("助手：", new[] { 104855, 5232 })]
    [TestCase("用户：", new[] { 20600, 5232 })]
    // docs/tokenizer.md: an emoji before Hangul, as tiktoken splits it.
    [TestCase("😀장", new[] { 76460, 55570 })]
    public void Encodes_like_the_reference(string text, int[] expected)
    {
        Assert.That(Tokenizer.Encode(text), Is.EqualTo(expected));
        Assert.That(Tokenizer.Decode(expected), Is.EqualTo(text), "decodes back");
    }

    [TestCase("<|startoftext|>You are a helpful assistant.<|extra_4|>Write a haiku about GPUs.<|extra_0|>",
        new[] { 127958, 2675, 527, 264, 11190, 18328, 13, 127966, 8144, 264, 6520, 39342, 922, 71503, 13, 127962 })]
    [TestCase("<|startoftext|>/no_think What is 2+2?<|extra_0|><think>\n\n</think>\n",
        new[] { 127958, 34200, 5978, 771, 3639, 374, 220, 17, 10, 17, 30, 127962, 14023, 771, 1363, 524, 27963, 397 })]
    public void Encodes_special_tokens_when_allowed(string text, int[] expected)
    {
        Assert.That(Tokenizer.Encode(text, allowSpecial: true), Is.EqualTo(expected));
        Assert.That(Tokenizer.Decode(expected), Is.EqualTo(text));
    }

    [Test]
    public void Special_tokens_in_user_text_stay_text_unless_allowed()
    {
        List<int> ids = Tokenizer.Encode("say <|eos|> now");
        Assert.That(ids.Any(Tokenizer.IsSpecial), Is.False);
        Assert.That(Tokenizer.Decode(ids), Is.EqualTo("say <|eos|> now"));
        Assert.That(Tokenizer.Encode("say <|eos|> now", allowSpecial: true), Does.Contain(SpecialTokens.Release.Eos));
        Assert.That(Tokenizer.Encode("<|not_a_token|>", allowSpecial: true).Any(Tokenizer.IsSpecial), Is.False);
    }

    [Test]
    public void Special_tokens_survive_a_long_text_with_many_distinct_pieces()
    {
        // docs/tokenizer.md: the library's piece cache once dropped special tokens after many distinct pieces.
        var random = new Random(5);
        string noise = string.Join(' ', Enumerable.Range(0, 20_000).Select(_ => new string(Enumerable.Range(0, 6).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray())));
        List<int> ids = Tokenizer.Encode(noise + "<|eos|>" + noise + "<|extra_0|>", allowSpecial: true);
        Assert.That(ids.Count(Tokenizer.IsSpecial), Is.EqualTo(2));
        Assert.That(ids[^1], Is.EqualTo(SpecialTokens.Release.Extra0));
    }

    [Test]
    public void Astral_digits_split_one_by_one_as_in_tiktoken()
    {
        // ' 𝟘𝟙𝟚' (mathematical digits, outside the BMP): a space, then one piece per digit (notes: .NET's Regex makes one piece).
        List<(int Offset, int Length)> pieces = HunyuanPreTokenizer.Split(" \U0001D7D8\U0001D7D9\U0001D7DA");
        Assert.That(pieces, Is.EqualTo(new[] { (0, 1), (1, 2), (3, 2), (5, 2) }));
        List<int> ids = Tokenizer.Encode(" \U0001D7D8\U0001D7D9\U0001D7DA");
        Assert.That(ids[0], Is.EqualTo(220));
        Assert.That(ids.Skip(1), Is.EqualTo(Tokenizer.Encode("\U0001D7D8").Concat(Tokenizer.Encode("\U0001D7D9")).Concat(Tokenizer.Encode("\U0001D7DA"))));
    }

    [TestCase("Hello world", new[] { "Hello", " world" })]
    [TestCase("a  b", new[] { "a", " ", " b" })]
    [TestCase("x \n\n y", new[] { "x", " \n\n", " y" })]
    [TestCase("end   ", new[] { "end", "   " })]
    [TestCase("(hi) 12", new[] { "(hi", ")", " ", "1", "2" })]
    [TestCase("it'S ok", new[] { "it", "'S", " ok" })]
    [TestCase("!!\r\n", new[] { "!!\r\n" })]
    [TestCase("\tTab", new[] { "\tTab" })]
    public void Pre_tokenizer_follows_the_pattern(string text, string[] expected)
    {
        string[] pieces = HunyuanPreTokenizer.Split(text).Select(p => text.Substring(p.Offset, p.Length)).ToArray();
        Assert.That(pieces, Is.EqualTo(expected));
    }

    [Test]
    public void Text_is_nfc_normalised()
    {
        Assert.That(Tokenizer.Encode("cafe\u0301"), Is.EqualTo(Tokenizer.Encode("caf\u00E9")));
    }

    [Test]
    public void Streaming_decode_holds_back_a_character_split_across_tokens()
    {
        TokenDecoder decoder = Tokenizer.CreateDecoder();
        Assert.That(decoder.Push(76460), Is.Empty, "the first token ends inside the emoji's bytes");
        Assert.That(decoder.Push(55570), Is.EqualTo("😀장"));
        Assert.That(decoder.Flush(), Is.Empty);

        string text = "流式解码：你好，世界！ emoji 😀🎉 and more";
        List<int> ids = Tokenizer.Encode(text);
        TokenDecoder streaming = Tokenizer.CreateDecoder();
        Assert.That(string.Concat(ids.Select(streaming.Push)) + streaming.Flush(), Is.EqualTo(text));
    }

    [Test]
    public void Skipping_special_tokens_and_unknown_ids()
    {
        Assert.That(Tokenizer.Decode([9906, SpecialTokens.Release.Eos, 1917], skipSpecial: true), Is.EqualTo("Hello world"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Decode([999_999]));
    }

    [Test]
    public void Ids_the_rank_file_does_not_cover_decode_as_replacement_characters()
    {
        // A generated model ships cl100k_base (100256 ranks) under the real 128167-id vocabulary: random weights can
        // pick an id in the gap, and generation must still print something.
        string dir = TestModels.Directory(TestModels.Tiny() with { TokenizerPath = null });
        HunyuanTokenizer cl100k = HunyuanTokenizer.FromModelDirectory(dir);
        Assert.That(cl100k.RankCount, Is.LessThan(120739));
        Assert.That(cl100k.Decode([9906, 120739, 1917]), Is.EqualTo("Hello\uFFFD world"));
        Assert.That(cl100k.Decode([SpecialTokens.Release.Eos], skipSpecial: false), Is.EqualTo(SpecialTokens.Release.Text(SpecialTokens.Release.Eos)));
        Assert.Throws<ArgumentOutOfRangeException>(() => cl100k.Decode([cl100k.VocabSize]));
    }
}
