using System.Text.Json.Nodes;
using Hunyuan.Vk.Generation;
using Microsoft.AspNetCore.Http;

namespace Hunyuan.Vk.Server;

/// <summary>Server-sent events: a reply's chunks as the tokens come.</summary>
public sealed partial class OpenAiServer
{
    private static async Task StreamAsync(HttpContext context, Reply reply, IAsyncEnumerable<GenerationUpdate> updates, GenerationStats stats, bool includeUsage)
    {
        HttpResponse response = context.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        await using IAsyncEnumerator<GenerationUpdate> e = updates.GetAsyncEnumerator(context.RequestAborted);
        // The first update is awaited before the headers go out: a refusal that only generation finds (a scripted
        // reply outside the vocabulary, say) is still a plain error response.
        bool any = await e.MoveNextAsync().ConfigureAwait(false);
        if (reply.Opening() is JsonObject opening)
        {
            await Send(response, opening).ConfigureAwait(false);
        }

        for (; any; any = await e.MoveNextAsync().ConfigureAwait(false))
        {
            foreach (JsonObject chunk in reply.Chunks(e.Current))
            {
                await Send(response, chunk).ConfigureAwait(false);
            }
        }

        await Send(response, reply.Closing(Reply.FinishReason(stats))).ConfigureAwait(false);
        if (includeUsage)
        {
            JsonObject last = reply.Envelope(reply.ChunkKind);
            last["choices"] = new JsonArray();
            last["usage"] = Reply.Usage(stats);
            await Send(response, last).ConfigureAwait(false);
        }

        await response.WriteAsync("data: [DONE]\n\n").ConfigureAwait(false);
    }

    private static async Task Send(HttpResponse response, JsonObject chunk)
    {
        await response.WriteAsync("data: " + chunk.ToJsonString(ServerJson.Options) + "\n\n").ConfigureAwait(false);
        await response.Body.FlushAsync().ConfigureAwait(false);
    }
}
