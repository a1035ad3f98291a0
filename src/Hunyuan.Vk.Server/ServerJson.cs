using System.Text.Json;

namespace Hunyuan.Vk.Server;

/// <summary>How the server writes JSON: non-ASCII text as it is (OpenAI's servers do the same).</summary>
internal static class ServerJson
{
    public static JsonSerializerOptions Options { get; } = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
