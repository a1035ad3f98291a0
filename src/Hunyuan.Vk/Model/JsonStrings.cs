using System.Text.Json;

namespace Hunyuan.Vk.Model;

/// <summary>
/// System.Text.Json checks a string escape such as <c>\ud800</c> (half a surrogate pair, so no text) only when the
/// string is read, and then throws InvalidOperationException from wherever that happens. A model file's JSON is
/// checked once, here, right after parsing, so such a file gets one message naming it.
/// </summary>
internal static class JsonStrings
{
    public static void Check(JsonElement root, string source)
    {
        try
        {
            Visit(root);
        }
        catch (InvalidOperationException e)
        {
            throw new ModelFormatException($"{source}: a string that is not valid Unicode (an escape of half a surrogate pair, such as \\ud800)", e);
        }

        static void Visit(JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object:
                    foreach (JsonProperty p in e.EnumerateObject())
                    {
                        _ = p.Name;
                        Visit(p.Value);
                    }

                    break;
                case JsonValueKind.Array:
                    foreach (JsonElement x in e.EnumerateArray())
                    {
                        Visit(x);
                    }

                    break;
                case JsonValueKind.String:
                    _ = e.GetString();
                    break;
            }
        }
    }
}
