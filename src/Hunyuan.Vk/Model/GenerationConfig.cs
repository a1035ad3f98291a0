using System.Text.Json;

namespace Hunyuan.Vk.Model;

/// <summary>Sampling defaults from <c>generation_config.json</c> (spec 1.3); absent file or fields take these defaults.</summary>
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

        try
        {
            using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(path));
            JsonElement r = doc.RootElement;
            var defaults = new GenerationConfig();
            return new GenerationConfig
            {
                DoSample = r.TryGetProperty("do_sample", out JsonElement s) ? s.GetBoolean() : defaults.DoSample,
                Temperature = r.TryGetProperty("temperature", out JsonElement t) ? t.GetSingle() : defaults.Temperature,
                TopK = r.TryGetProperty("top_k", out JsonElement k) ? k.GetInt32() : defaults.TopK,
                TopP = r.TryGetProperty("top_p", out JsonElement p) ? p.GetSingle() : defaults.TopP,
                RepetitionPenalty = r.TryGetProperty("repetition_penalty", out JsonElement rp) ? rp.GetSingle() : defaults.RepetitionPenalty,
                EosTokenIds = r.TryGetProperty("eos_token_id", out JsonElement e)
                    ? (e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(x => x.GetInt32()).ToArray() : [e.GetInt32()])
                    : defaults.EosTokenIds,
                PadTokenId = r.TryGetProperty("pad_token_id", out JsonElement pad) ? pad.GetInt32() : defaults.PadTokenId,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new ModelFormatException($"{path}: {e.Message}", e);
        }
    }
}
