using System.Text.Json;

namespace Hunyuan.Vk.Model;

/// <summary>Sampling defaults from <c>generation_config.json</c> (docs/model.md 1.3); absent file or fields take these defaults.</summary>
public sealed record GenerationConfig
{
    public bool DoSample { get; init; } = true;
    public float Temperature { get; init; } = 0.7f;
    public int TopK { get; init; } = 20;
    public float TopP { get; init; } = 0.8f;
    public float RepetitionPenalty { get; init; } = 1.05f;
    public IReadOnlyList<int> EosTokenIds { get; init; } = [127960, 127967];
    public int PadTokenId { get; init; } = 127961;

    public static GenerationConfig Load(string modelDirectory)
    {
        string path = Path.Combine(modelDirectory, "generation_config.json");
        if (!File.Exists(path))
        {
            return new GenerationConfig();
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: not valid JSON ({e.Message})", e);
        }

        using (doc)
        {
            JsonElement r = doc.RootElement;
            JsonStrings.Check(r, path);
            if (r.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFormatException($"{path}: expected a JSON object");
            }

            ModelFormatException Error(string field, JsonElement v, string wanted) => new($"{path}: {field}: {v.GetRawText()} is not {wanted}");
            bool? Bool(string field) => !r.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null ? null
                : v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Error(field, v, "true or false");
            float? Number(string field, Func<double, bool> ok, string wanted) => !r.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null ? null
                : v.ValueKind == JsonValueKind.Number && (float)v.GetDouble() is var f && ok(f) ? f : throw Error(field, v, wanted);   // as the float it is used as
            int Id(string field, JsonElement v) => v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int id) && id >= 0 ? id : throw Error(field, v, "a token id");

            var defaults = new GenerationConfig();
            int? topK = null;
            if (r.TryGetProperty("top_k", out JsonElement k) && k.ValueKind != JsonValueKind.Null)
            {
                topK = k.ValueKind == JsonValueKind.Number && k.TryGetInt32(out int value) && value >= 0 ? value : throw Error("top_k", k, "a whole number of 0 or more");
            }

            IReadOnlyList<int> eos = defaults.EosTokenIds;
            if (r.TryGetProperty("eos_token_id", out JsonElement e) && e.ValueKind != JsonValueKind.Null)
            {
                eos = e.ValueKind == JsonValueKind.Array ? [.. e.EnumerateArray().Select(x => Id("eos_token_id", x))] : [Id("eos_token_id", e)];
            }

            return new GenerationConfig
            {
                DoSample = Bool("do_sample") ?? defaults.DoSample,
                Temperature = Number("temperature", v => v >= 0 && double.IsFinite(v), "a number of 0 or more") ?? defaults.Temperature,
                TopK = topK ?? defaults.TopK,
                TopP = Number("top_p", v => v > 0 && v <= 1, "a number above 0 and at most 1") ?? defaults.TopP,
                RepetitionPenalty = Number("repetition_penalty", v => v > 0 && double.IsFinite(v), "a number above 0") ?? defaults.RepetitionPenalty,
                EosTokenIds = eos,
                PadTokenId = r.TryGetProperty("pad_token_id", out JsonElement pad) && pad.ValueKind != JsonValueKind.Null ? Id("pad_token_id", pad) : defaults.PadTokenId,
            };
        }
    }
}
