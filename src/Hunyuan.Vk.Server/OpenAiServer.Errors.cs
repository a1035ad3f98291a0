using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace Hunyuan.Vk.Server;

/// <summary>Authorization, and every error in OpenAI's shape, never a stack trace.</summary>
public sealed partial class OpenAiServer
{
    private async Task Guard(HttpContext context, RequestDelegate next)
    {
        try
        {
            await Checked(context, next).ConfigureAwait(false);
        }
        finally
        {
            string path = context.GetEndpoint() is Microsoft.AspNetCore.Routing.RouteEndpoint { RoutePattern.RawText: string route } ? route : "other";
            _requests.WithLabels(path, context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
        }
    }

    private async Task Checked(HttpContext context, RequestDelegate next)
    {
        try
        {
            if (_options.ApiKey is string key && context.Request.Path.StartsWithSegments("/v1")
                && context.Request.Headers.Authorization.ToString() != "Bearer " + key)
            {
                throw new ApiError(401, "Missing or wrong API key (Authorization: Bearer KEY)", code: "invalid_api_key");
            }

            await next(context).ConfigureAwait(false);
        }
        catch (ApiError e)
        {
            await WriteError(context, e).ConfigureAwait(false);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            await WriteError(context, new ApiError(e.StatusCode, e.Message)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; nothing to answer.
        }
        catch (ArgumentException e)
        {
            await WriteError(context, ApiError.Invalid(e.Message)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await WriteError(context, new ApiError(500, $"{e.GetType().Name}: {e.Message}")).ConfigureAwait(false);
        }
    }

    private static async Task WriteError(HttpContext context, ApiError e)
    {
        if (context.Response.HasStarted)
        {
            // Mid-stream: an SSE error event, as OpenAI-compatible servers send, then the stream ends.
            await context.Response.WriteAsync($"data: {ErrorJson(e)}\n\n").ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = e.Status;
        if (e.Status == 503)
        {
            context.Response.Headers.RetryAfter = "1";
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(ErrorJson(e)).ConfigureAwait(false);
    }

    private static string ErrorJson(ApiError e) => new JsonObject
    {
        ["error"] = new JsonObject { ["message"] = e.Message, ["type"] = e.Type, ["param"] = e.Param, ["code"] = e.Code },
    }.ToJsonString(ServerJson.Options);
}
