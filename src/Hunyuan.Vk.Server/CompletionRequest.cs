using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;
using static Hunyuan.Vk.Server.RequestFields;

namespace Hunyuan.Vk.Server;

/// <summary>
/// A <c>POST /v1/completions</c> body: a raw prompt (no chat template, no reply parsing), as text or token ids;
/// one prompt per request. Text may contain the model's special tokens (a template written by hand).
/// </summary>
internal sealed record CompletionRequest(string? Text, List<int>? Ids, GenerateOptions Options, bool Stream, bool IncludeUsage)
{
    public static CompletionRequest Parse(JsonNode? body)
    {
        if (body is not JsonObject o)
        {
            throw ApiError.Invalid("The request body must be a JSON object");
        }

        foreach (string unsupported in new[] { "echo", "logprobs", "suffix" })
        {
            if (o[unsupported] is JsonNode v && v.GetValueKind() is not (JsonValueKind.Null or JsonValueKind.False))
            {
                throw ApiError.Invalid($"{unsupported} is not supported by this server", unsupported);
            }
        }

        if (Int(o, "best_of") is int best && best != 1)
        {
            throw ApiError.Invalid($"best_of = {best}: this server generates one choice per request", "best_of");
        }

        (string? text, List<int>? ids) = Prompt(o["prompt"]);
        (GenerateOptions options, bool stream, bool usage) = Common(o, defaultMaxTokens: 16);
        return new CompletionRequest(text, ids, options, stream, usage);
    }

    /// <summary>The prompt's ids: <see cref="Ids"/> checked against the vocabulary, or <see cref="Text"/> encoded.</summary>
    public List<int> Encode(HunyuanEngine engine)
    {
        if (Ids is null)
        {
            return engine.Tokenizer.Encode(Text!, allowSpecial: true);
        }

        int vocab = engine.Config.VocabSize;
        for (int i = 0; i < Ids.Count; i++)
        {
            if ((uint)Ids[i] >= (uint)vocab)
            {
                throw ApiError.Invalid($"prompt[{i}] = {Ids[i]} is outside the vocabulary (ids 0 to {vocab - 1})", "prompt");
            }
        }

        return Ids;
    }

    // A string, token ids, or a list of one of either.
    private static (string?, List<int>?) Prompt(JsonNode? node)
    {
        switch (node)
        {
            case JsonValue v when v.TryGetValue(out string? s):
                return s.Length > 0 ? (s, null) : throw ApiError.Invalid("prompt is empty", "prompt");
            case JsonArray { Count: 1 } one when one[0] is JsonValue or JsonArray && one[0]!.GetValueKind() is JsonValueKind.String or JsonValueKind.Array:
                return Prompt(one[0]);
            case JsonArray a when a.Count > 0:
                var ids = new List<int>(a.Count);
                for (int i = 0; i < a.Count; i++)
                {
                    if (a[i] is not JsonValue x || x.GetValueKind() != JsonValueKind.Number || !x.TryGetValue(out long id) || id != (int)id)
                    {
                        throw ApiError.Invalid($"prompt[{i}] must be a token id (an integer); a list of prompts is one request each here", "prompt");
                    }

                    ids.Add((int)id);
                }

                return (null, ids);
            default:
                throw ApiError.Invalid("prompt must be a non-empty string or array of token ids", "prompt");
        }
    }
}
