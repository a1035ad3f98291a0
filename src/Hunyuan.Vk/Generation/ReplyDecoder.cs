using System.Text;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Generation;

/// <summary>
/// A reply as it streams, from token ids to what a reader sees: text (a character split across tokens waits until it
/// is whole, special tokens are skipped), then for a chat reply its reasoning, answer and tool calls
/// (<see cref="ChatOutputParser"/>); for a raw continuation all of it is answer. The one path from ids to reply that the
/// engine, the CLI and the server share.
/// </summary>
public sealed class ReplyDecoder
{
    private readonly TokenDecoder _decoder;
    private readonly ChatOutputParser? _parser;
    private readonly List<int> _ids = [];
    private readonly StringBuilder _text = new();

    /// <param name="tokenizer">The model's tokenizer.</param>
    /// <param name="chat">A reply to the chat template (split into reasoning, answer and tool calls), or raw text.</param>
    public ReplyDecoder(HunyuanTokenizer tokenizer, bool chat)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _decoder = tokenizer.CreateDecoder(skipSpecial: true);
        _parser = chat ? new ChatOutputParser() : null;
    }

    /// <summary>The ids pushed so far, stop ids included.</summary>
    public IReadOnlyList<int> Ids => _ids;

    /// <summary>All text so far, unparsed.</summary>
    public string Text => _text.ToString();

    public string Reasoning => _parser?.Reasoning ?? string.Empty;

    public string Answer => _parser?.Answer ?? Text;

    public IReadOnlyList<ToolCall> ToolCalls => _parser?.ToolCalls ?? [];

    /// <summary>Adds the next generated id; returns the reply text that is now final (no empty pieces).</summary>
    public IReadOnlyList<ReplyDelta> Push(int id)
    {
        _ids.Add(id);
        return Deltas(_decoder.Push(id), finish: false);
    }

    /// <summary>The reply has ended: returns what was held back (an unfinished character or tag).</summary>
    public IReadOnlyList<ReplyDelta> Finish() => Deltas(_decoder.Flush(), finish: true);

    private IReadOnlyList<ReplyDelta> Deltas(string text, bool finish)
    {
        _text.Append(text);
        if (_parser is null)
        {
            return text.Length == 0 ? [] : [new ReplyDelta(ReplyPart.Answer, text)];
        }

        IReadOnlyList<ReplyDelta> deltas = text.Length == 0 && !finish ? [] : _parser.Push(text);
        if (finish)
        {
            deltas = [.. deltas, .. _parser.Finish()];
        }

        return [.. deltas.Where(d => d.Text.Length > 0)];
    }
}
