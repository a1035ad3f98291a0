using System.Text;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Server;

/// <summary>/v1/chat/completions: content, reasoning_content and tool_calls.</summary>
internal sealed class ChatReply(string model) : Reply(model, "chatcmpl-", "chat.completion", "chat.completion.chunk")
{
    private readonly StringBuilder _content = new(), _reasoning = new();
    private readonly List<ToolCall> _calls = [];

    public override void Add(GenerationUpdate u)
    {
        switch (u.Part)
        {
            case ReplyPart.Reasoning:
                _reasoning.Append(u.Text);
                break;
            case ReplyPart.ToolCall:
                _calls.Add(u.Call!);
                break;
            default:
                _content.Append(u.Text);
                break;
        }
    }

    /// <summary>Text as a content or reasoning delta; a call as its id and name, then its arguments.</summary>
    public override IEnumerable<JsonObject> Chunks(GenerationUpdate u)
    {
        Add(u);
        if (u.Part != ReplyPart.ToolCall)
        {
            yield return Delta(new JsonObject { [u.Part == ReplyPart.Reasoning ? "reasoning_content" : "content"] = u.Text });
            yield break;
        }

        int index = _calls.Count - 1;
        yield return Delta(new JsonObject
        {
            ["tool_calls"] = new JsonArray(new JsonObject
            {
                ["index"] = index, ["id"] = u.Call!.Id, ["type"] = "function",
                ["function"] = new JsonObject { ["name"] = u.Call.Name, ["arguments"] = "" },
            }),
        });
        yield return Delta(new JsonObject
        {
            ["tool_calls"] = new JsonArray(new JsonObject { ["index"] = index, ["function"] = new JsonObject { ["arguments"] = Arguments(u.Call) } }),
        });
    }

    public override JsonObject Opening() => Delta(new JsonObject { ["role"] = "assistant", ["content"] = "" });

    public override JsonObject Closing(string finish) => Delta([], finish);

    protected override JsonObject Choice(string finish)
    {
        var message = new JsonObject { ["role"] = "assistant", ["content"] = _calls.Count > 0 && _content.Length == 0 ? null : _content.ToString() };
        if (_reasoning.Length > 0)
        {
            message["reasoning_content"] = _reasoning.ToString();
        }

        if (_calls.Count > 0)
        {
            message["tool_calls"] = new JsonArray([.. _calls.Select(c => (JsonNode)new JsonObject
            {
                ["id"] = c.Id, ["type"] = "function", ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = Arguments(c) },
            })]);
        }

        return new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = finish };
    }

    private JsonObject Delta(JsonObject delta, string? finish = null) => Chunk(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finish });

    private static string Arguments(ToolCall c) => c.Arguments?.ToJsonString(ServerJson.Options) ?? "{}";
}
