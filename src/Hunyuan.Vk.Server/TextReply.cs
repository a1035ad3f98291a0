using System.Text;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;

namespace Hunyuan.Vk.Server;

/// <summary>/v1/completions: the continuation's text.</summary>
internal sealed class TextReply(string model) : Reply(model, "cmpl-", "text_completion", "text_completion")
{
    private readonly StringBuilder _text = new();

    public override void Add(GenerationUpdate u) => _text.Append(u.Text);

    public override IEnumerable<JsonObject> Chunks(GenerationUpdate u)
    {
        Add(u);
        yield return Chunk(Text(u.Text, null));
    }

    public override JsonObject Closing(string finish) => Chunk(Text(string.Empty, finish));

    protected override JsonObject Choice(string finish) => Text(_text.ToString(), finish);

    private static JsonObject Text(string text, string? finish) =>
        new() { ["index"] = 0, ["text"] = text, ["logprobs"] = null, ["finish_reason"] = finish };
}
