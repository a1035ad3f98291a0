using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Hunyuan.Vk.Text;

/// <summary>Which part of the model's reply a piece of text belongs to.</summary>
public enum ReplyPart
{
    Reasoning,
    Answer,

    /// <summary>A tool call (the parser keeps their JSON out of the answer; see <see cref="ChatOutputParser.ToolCalls"/>).</summary>
    ToolCall,
}

/// <summary>Text that became final in one part of the reply.</summary>
public readonly record struct ReplyDelta(ReplyPart Part, string Text);

/// <summary>
/// Splits the model's streamed reply (docs/model.md 6.2-6.3) into reasoning, answer and tool calls:
/// <code>&lt;think&gt;\nREASONING\n&lt;/think&gt;\n&lt;answer&gt;\nANSWER\n&lt;/answer&gt;</code>
/// with &lt;tool_calls&gt;[JSON]&lt;/tool_calls&gt; inside the answer. Text arrives in arbitrary pieces; a tag cut between
/// pieces is held back until it is complete. Tolerates what models do in practice: no tags at all (all answer), a
/// reasoning closed by &lt;/answer&gt; instead of &lt;/think&gt; (Hunyuan-A13B issue #26), &lt;answer&gt; without &lt;/think&gt;,
/// no &lt;answer&gt; after &lt;/think&gt;, and a reply cut off mid-tag.
/// </summary>
public sealed class ChatOutputParser
{
    private enum State
    {
        Start,
        Reasoning,
        BetweenParts,
        Answer,
        ToolCalls,
        Done,
    }

    private const string ThinkOpen = "<think>", ThinkClose = "</think>", AnswerOpen = "<answer>", AnswerClose = "</answer>";
    private const string CallsOpen = "<tool_calls>", CallsClose = "</tool_calls>";
    private static readonly string[] s_reasoningEnds = [ThinkClose, AnswerClose, AnswerOpen];
    private static readonly string[] s_answerEnds = [AnswerClose, CallsOpen];
    private static readonly string[] s_openers = [ThinkOpen, AnswerOpen, CallsOpen];

    private readonly StringBuilder _pending = new();
    private readonly StringBuilder _reasoning = new();
    private readonly StringBuilder _answer = new();
    private readonly StringBuilder _calls = new();
    private readonly StringBuilder _raw = new();
    private readonly List<ToolCall> _toolCalls = [];
    private readonly List<string> _toolCallErrors = [];
    private State _state = State.Start;
    private bool _dropNewline;

    /// <summary>The tags that end the reasoning: the model closing its thought itself (a think budget stops counting there).</summary>
    public static IReadOnlyList<string> ReasoningEnds => s_reasoningEnds;

    public string Reasoning => _reasoning.ToString();
    public string Answer => _answer.ToString();
    public IReadOnlyList<ToolCall> ToolCalls => _toolCalls;

    /// <summary>Tool-call blocks that were not a JSON list of {name, arguments}, as they were written.</summary>
    public IReadOnlyList<string> ToolCallErrors => _toolCallErrors;

    /// <summary>Everything pushed, unparsed.</summary>
    public string Raw => _raw.ToString();

    /// <summary>Adds text; returns the reasoning and answer text that is now final.</summary>
    public IReadOnlyList<ReplyDelta> Push(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _raw.Append(text);
        _pending.Append(text);
        var deltas = new List<ReplyDelta>();
        while (Step(deltas, final: false))
        {
        }

        return deltas;
    }

    /// <summary>The reply has ended: flushes held-back text (a tag cut off at the end counts as text).</summary>
    public IReadOnlyList<ReplyDelta> Finish()
    {
        var deltas = new List<ReplyDelta>();
        while (Step(deltas, final: true))
        {
        }

        if (_state == State.ToolCalls)
        {
            _toolCallErrors.Add(_calls.ToString());   // unterminated <tool_calls>
            _calls.Clear();
        }

        return deltas;
    }

    /// <summary>One transition; false when more text is needed.</summary>
    private bool Step(List<ReplyDelta> deltas, bool final)
    {
        if (_dropNewline && _pending.Length > 0)
        {
            _dropNewline = false;
            if (_pending[0] == '\n')
            {
                _pending.Remove(0, 1);
            }
        }

        string s = _pending.ToString();
        switch (_state)
        {
            case State.Start:
            case State.BetweenParts:
            case State.Done:
                return Between(s, deltas, final);
            case State.Reasoning:
                return Body(s, ReplyPart.Reasoning, s_reasoningEnds, deltas, final);
            case State.Answer:
                return Body(s, ReplyPart.Answer, s_answerEnds, deltas, final);
            default:
                return ToolCallBlock(s, final);
        }
    }

    // Outside reasoning and answer: skip whitespace, expect an opening tag; anything else is answer text.
    private bool Between(string s, List<ReplyDelta> deltas, bool final)
    {
        string rest = s.TrimStart();
        if (rest.Length == 0)
        {
            if (final)
            {
                _pending.Clear();
            }

            return false;
        }

        foreach (string tag in s_openers)
        {
            if (rest.StartsWith(tag, StringComparison.Ordinal))
            {
                _pending.Clear().Append(rest[tag.Length..]);
                bool thinking = tag == ThinkOpen && _state == State.Start;
                _state = thinking ? State.Reasoning : tag == CallsOpen ? State.ToolCalls : State.Answer;
                _dropNewline = tag != CallsOpen;
                return true;
            }

            if (!final && tag.StartsWith(rest, StringComparison.Ordinal))
            {
                return false;   // maybe the start of a tag: wait
            }
        }

        // Untagged text: part of the answer (keep the whitespace we skipped if the answer already has text).
        _pending.Clear().Append(_state == State.Done && _answer.Length > 0 ? s : rest);
        _state = State.Answer;
        return true;
    }

    private bool Body(string s, ReplyPart part, string[] ends, List<ReplyDelta> deltas, bool final)
    {
        (int at, string? tag) = Earliest(s, ends);
        if (tag is null)
        {
            int keep = final ? 0 : HeldBack(s, ends);
            Emit(part, s[..(s.Length - keep)], deltas);
            _pending.Remove(0, s.Length - keep);
            return false;
        }

        // One newline before a closing tag belongs to the format, not the text.
        int textEnd = at > 0 && s[at - 1] == '\n' && tag != CallsOpen ? at - 1 : at;
        Emit(part, s[..textEnd], deltas);
        _pending.Remove(0, at + tag.Length);
        (_state, _dropNewline) = tag switch
        {
            ThinkClose or AnswerClose when part == ReplyPart.Reasoning => (State.BetweenParts, false),
            AnswerOpen => (State.Answer, true),
            CallsOpen => (State.ToolCalls, false),
            _ => (State.Done, false),
        };
        return true;
    }

    private bool ToolCallBlock(string s, bool final)
    {
        int close = s.IndexOf(CallsClose, StringComparison.Ordinal);
        if (close < 0)
        {
            if (final)
            {
                _calls.Append(s);
                _pending.Clear();
            }

            return false;
        }

        _calls.Append(s[..close]);
        ParseCalls(_calls.ToString());
        _calls.Clear();
        _pending.Remove(0, close + CallsClose.Length);
        _state = State.Answer;
        return true;
    }

    private void ParseCalls(string json)
    {
        try
        {
            if (JsonNode.Parse(json) is JsonArray list)
            {
                var calls = new List<ToolCall>();
                foreach (JsonNode? item in list)
                {
                    if (item is not JsonObject o || o["name"]?.GetValue<string>() is not string name)
                    {
                        throw new JsonException("a call without a name");
                    }

                    JsonNode? args = o["arguments"];
                    if (args is JsonValue v && v.TryGetValue(out string? text))
                    {
                        args = JsonNode.Parse(text);   // arguments written as a JSON string
                    }

                    calls.Add(new ToolCall(name, args?.DeepClone()));
                }

                _toolCalls.AddRange(calls);
                return;
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            // Reported below with the raw text.
        }

        _toolCallErrors.Add(json);
    }

    private void Emit(ReplyPart part, string text, List<ReplyDelta> deltas)
    {
        if (text.Length == 0)
        {
            return;
        }

        (part == ReplyPart.Reasoning ? _reasoning : _answer).Append(text);
        deltas.Add(new ReplyDelta(part, text));
    }

    private static (int At, string? Tag) Earliest(string s, string[] tags)
    {
        (int at, string? tag) best = (int.MaxValue, null);
        foreach (string t in tags)
        {
            int i = s.IndexOf(t, StringComparison.Ordinal);
            if (i >= 0 && i < best.at)
            {
                best = (i, t);
            }
        }

        return best;
    }

    // Characters at the end that may begin a tag (or a newline and a tag): held back until the next piece decides.
    private static int HeldBack(string s, string[] tags)
    {
        int keep = 0;
        foreach (string tag in tags)
        {
            foreach (string candidate in (string[])[tag, "\n" + tag])
            {
                for (int n = Math.Min(candidate.Length - 1, s.Length); n > keep; n--)
                {
                    if (s.EndsWith(candidate[..n], StringComparison.Ordinal))
                    {
                        keep = n;
                        break;
                    }
                }
            }
        }

        return keep;
    }
}
