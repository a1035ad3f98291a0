using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Tests.Text;

public sealed class ChatOutputParserTests
{
    /// <summary>Feeds the reply in pieces of every size from 1 to 7 characters and checks all give the same split.</summary>
    private static ChatOutputParser Parse(string reply, int piece)
    {
        var parser = new ChatOutputParser();
        var streamed = new List<ReplyDelta>();
        for (int i = 0; i < reply.Length; i += piece)
        {
            streamed.AddRange(parser.Push(reply.Substring(i, Math.Min(piece, reply.Length - i))));
        }

        streamed.AddRange(parser.Finish());
        Assert.That(string.Concat(streamed.Where(d => d.Part == ReplyPart.Reasoning).Select(d => d.Text)), Is.EqualTo(parser.Reasoning), "streamed reasoning");
        Assert.That(string.Concat(streamed.Where(d => d.Part == ReplyPart.Answer).Select(d => d.Text)), Is.EqualTo(parser.Answer), "streamed answer");
        Assert.That(parser.Raw, Is.EqualTo(reply));
        return parser;
    }

    private static IEnumerable<int> Pieces => Enumerable.Range(1, 7).Append(1000);

    [Test]
    public void Slow_thinking_reply([ValueSource(nameof(Pieces))] int piece)
    {
        ChatOutputParser p = Parse("<think>\nLet me think.\nStep two.\n</think>\n<answer>\nThe answer is 4.\n</answer>", piece);
        Assert.That(p.Reasoning, Is.EqualTo("Let me think.\nStep two."));
        Assert.That(p.Answer, Is.EqualTo("The answer is 4."));
        Assert.That(p.ToolCalls, Is.Empty);
    }

    [Test]
    public void Fast_thinking_reply_starts_at_the_answer([ValueSource(nameof(Pieces))] int piece)
    {
        ChatOutputParser p = Parse("<answer>\nHello!\n</answer>", piece);
        Assert.That((p.Reasoning, p.Answer), Is.EqualTo((string.Empty, "Hello!")));
    }

    [Test]
    public void Tool_calls_inside_the_answer([ValueSource(nameof(Pieces))] int piece)
    {
        ChatOutputParser p = Parse(
            "<think>\nNeed the weather.\n</think>\n<answer>\n<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Shenzhen\"}}]</tool_calls>\n</answer>", piece);
        Assert.That(p.Reasoning, Is.EqualTo("Need the weather."));
        Assert.That(p.ToolCalls, Has.Count.EqualTo(1));
        Assert.That(p.ToolCalls[0].Name, Is.EqualTo("get_weather"));
        Assert.That(p.ToolCalls[0].Arguments!["city"]!.GetValue<string>(), Is.EqualTo("Shenzhen"));
        Assert.That(p.Answer.Trim(), Is.Empty);
    }

    [Test]
    public void Reasoning_closed_by_answer_end_tag_as_users_report([ValueSource(nameof(Pieces))] int piece)
    {
        // Hunyuan-A13B issue #26: </answer> where </think> was expected.
        ChatOutputParser p = Parse("<think>\nhmm\n</answer>\n<answer>\nok\n</answer>", piece);
        Assert.That((p.Reasoning, p.Answer), Is.EqualTo(("hmm", "ok")));
    }

    [Test]
    public void Answer_without_closing_the_thought([ValueSource(nameof(Pieces))] int piece)
    {
        ChatOutputParser p = Parse("<think>\nhmm\n<answer>\nok\n</answer>", piece);
        Assert.That((p.Reasoning, p.Answer), Is.EqualTo(("hmm", "ok")));
    }

    [Test]
    public void Untagged_text_is_all_answer([ValueSource(nameof(Pieces))] int piece)
    {
        ChatOutputParser p = Parse("Just text, no tags <b>bold</b>.", piece);
        Assert.That((p.Reasoning, p.Answer), Is.EqualTo((string.Empty, "Just text, no tags <b>bold</b>.")));
    }

    [Test]
    public void A_reply_cut_off_mid_tag_keeps_its_text([ValueSource(nameof(Pieces))] int piece)
    {
        ChatOutputParser p = Parse("<think>\nthinking about </thi", piece);
        Assert.That(p.Reasoning, Is.EqualTo("thinking about </thi"));
    }

    [Test]
    public void Malformed_tool_calls_are_reported_not_lost()
    {
        ChatOutputParser p = Parse("<answer>\n<tool_calls>[{\"nam: broken</tool_calls>\n</answer>", 3);
        Assert.That(p.ToolCalls, Is.Empty);
        Assert.That(p.ToolCallErrors, Is.EqualTo(new[] { "[{\"nam: broken" }));
    }

    [Test]
    public void String_arguments_are_parsed_as_json()
    {
        ChatOutputParser p = Parse("<answer><tool_calls>[{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}]</tool_calls></answer>", 5);
        Assert.That(p.ToolCalls[0].Arguments!["a"]!.GetValue<int>(), Is.EqualTo(1));
    }
}
