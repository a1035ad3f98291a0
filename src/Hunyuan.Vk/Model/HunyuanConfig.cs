using System.Text.Json;

namespace Hunyuan.Vk.Model;

/// <summary>
/// The model's shape, read from a Hugging Face <c>config.json</c> (HunYuanMoEV1ForCausalLM) with its real field names.
/// Per-layer lists (<c>moe_topk</c>, <c>moe_intermediate_size</c>, <c>num_shared_expert</c>) must be uniform. Fields the
/// engine does not implement (<c>use_cla</c>, <c>use_mla</c>, biases, group-limited routing, dense layers) are refused by
/// name. See docs/model.md 1.
/// </summary>
public sealed record HunyuanConfig
{
    public const string Architecture = "HunYuanMoEV1ForCausalLM";

    public required int HiddenSize { get; init; }            // 4096
    public required int Layers { get; init; }                // 32
    public required int Heads { get; init; }                 // 32 query heads
    public required int KvHeads { get; init; }               // 8
    public required int HeadDim { get; init; }               // 128
    public required int VocabSize { get; init; }             // 128167
    public required int Experts { get; init; }              // 64 routed experts per layer
    public required int TopK { get; init; }                  // 8 chosen per token
    public required int ExpertIntermediate { get; init; }    // 3072, each routed expert
    public required int SharedExperts { get; init; }         // 1
    public required int SharedIntermediate { get; init; }    // intermediate_size * num_shared_expert = 3072
    public required float RmsNormEps { get; init; }          // 1e-5
    public required double RopeTheta { get; init; }          // 10000
    public required double RopeAlpha { get; init; }          // 1000 (1 when rope_scaling is absent)
    public required bool UseQkNorm { get; init; }            // true: per-head RMSNorm of q and k after RoPE
    public required bool NormTopKProb { get; init; }         // true: renormalise the top-k weights
    public required double RoutedScalingFactor { get; init; } // 1.0
    public required bool TieWordEmbeddings { get; init; }    // true: lm_head = embed_tokens
    public required int MaxPositionEmbeddings { get; init; } // 32768 in config (the model runs to 262144)
    public required int BosTokenId { get; init; }
    public required int EosTokenId { get; init; }            // 127960
    public required int PadTokenId { get; init; }
    public required QuantizationConfig Quantization { get; init; }

    public int QueryDim => Heads * HeadDim;                  // 4096
    public int KvDim => KvHeads * HeadDim;                   // 1024
    public int GroupSize => Heads / KvHeads;                 // 4 query heads per KV head

    /// <summary>Expert matrices a layer stacks on the device: the routed experts, then the shared expert if there is one.</summary>
    public int StackedExperts => Experts + (SharedExperts > 0 ? 1 : 0);   // 65

    /// <summary>Experts one token runs: its top k, then the shared expert if there is one.</summary>
    public int RouteSlots => TopK + (SharedExperts > 0 ? 1 : 0);          // 9

    /// <summary>Weights of one layer's attention projections: q, k, v and o.</summary>
    public long AttentionWeights => (QueryDim + 2L * KvDim) * HiddenSize + (long)HiddenSize * QueryDim;

    /// <summary>Weights of one expert (routed or shared): gate, up and down.</summary>
    public long ExpertWeights => 3L * ExpertIntermediate * HiddenSize;

    /// <summary>The NTK-alpha RoPE base: theta * alpha^(d/(d-2)), d = head_dim (10000 * 1000^(128/126) for A13B).</summary>
    public double RopeBase => NtkAlphaBase(RopeTheta, RopeAlpha, HeadDim);

    private static double NtkAlphaBase(double theta, double alpha, int headDim) => theta * Math.Pow(alpha, headDim / (headDim - 2.0));

    public static HunyuanConfig Load(string modelDirectory)
    {
        ModelWeights.CheckDirectory(modelDirectory);
        string path = Path.Combine(modelDirectory, "config.json");
        if (!File.Exists(path))
        {
            throw new ModelFormatException($"{path}: not found (a model directory holds config.json and *.safetensors)");
        }

        return Parse(File.ReadAllText(path), path);
    }

    public static HunyuanConfig Parse(string json, string source = "config.json")
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{source}: not valid JSON ({e.Message})", e);
        }

        using (doc)
        {
            JsonStrings.Check(doc.RootElement, source);
            return new ConfigReader(doc.RootElement, source).Read();
        }
    }

    /// <summary>Reads and checks one config.json; every error names the file and the field.</summary>
    private sealed class ConfigReader(JsonElement root, string source)
    {
        public HunyuanConfig Read()
        {
            CheckArchitecture();
            Refuse("use_cla", v => v.ValueKind == JsonValueKind.True, "cross-layer KV sharing (CLA) is not supported");
            Refuse("use_mla", v => v.ValueKind == JsonValueKind.True, "multi-head latent attention (MLA) is not supported");
            Refuse("attention_bias", v => v.ValueKind == JsonValueKind.True, "attention biases are not supported");
            Refuse("mlp_bias", v => v.ValueKind == JsonValueKind.True, "MLP biases are not supported");
            Refuse("group_limited_greedy", v => v.ValueKind == JsonValueKind.True, "group-limited routing is not supported");
            Refuse("moe_layer_num_skipped", v => v.ValueKind != JsonValueKind.Null && (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int skipped) || skipped != 0), "dense (non-MoE) layers are not supported");
            Refuse("hidden_act", v => v.ValueKind == JsonValueKind.String && v.GetString() != "silu", "only hidden_act 'silu' (SwiGLU) is supported");

            int hidden = Int("hidden_size");
            int heads = Int("num_attention_heads");
            int layers = Int("num_hidden_layers");
            int headDim = OptionalInt("attention_head_dim") ?? OptionalInt("head_dim") ?? hidden / Positive(heads, "num_attention_heads");
            int kvHeads = OptionalInt("num_key_value_heads") ?? heads;
            if (heads % Positive(kvHeads, "num_key_value_heads") != 0)
            {
                throw Error("num_key_value_heads", $"{kvHeads} does not divide num_attention_heads {heads}");
            }

            if ((long)Positive(heads, "num_attention_heads") * headDim > int.MaxValue)
            {
                throw Error("attention_head_dim", $"{headDim} x {heads} heads is too large");
            }

            int intermediate = Int("intermediate_size");
            bool mixed = OptionalBool("use_mixed_mlp_moe") ?? true;
            int shared = mixed ? Uniform("num_shared_expert", layers, 1) : 0;
            if (shared < 0 || (shared > 0 && (long)Positive(intermediate, "intermediate_size") * shared > int.MaxValue))
            {
                throw Error("num_shared_expert", $"{shared} shared experts of intermediate_size {intermediate}: not a size this engine runs");
            }

            (double theta, double alpha) = Rope();
            double ropeBase = NtkAlphaBase(theta, alpha, headDim);
            if (!double.IsFinite(ropeBase) || ropeBase <= 1)
            {
                throw Error("rope_theta", $"{theta} with rope_scaling.alpha {alpha} and head_dim {headDim} gives a RoPE base of {ropeBase}, not a finite number above 1");
            }
            return new HunyuanConfig
            {
                HiddenSize = Positive(hidden, "hidden_size"),
                Layers = Positive(layers, "num_hidden_layers"),
                Heads = Positive(heads, "num_attention_heads"),
                KvHeads = kvHeads,
                HeadDim = EvenPositive(headDim, "attention_head_dim"),
                VocabSize = Positive(Int("vocab_size"), "vocab_size"),
                Experts = Positive(Int("num_experts"), "num_experts"),
                TopK = TopK(layers),
                ExpertIntermediate = Positive(Uniform("moe_intermediate_size", layers, intermediate), "moe_intermediate_size"),
                SharedExperts = shared,
                SharedIntermediate = intermediate * shared,
                RmsNormEps = PositiveFloat(OptionalDouble("rms_norm_eps") ?? 1e-5, "rms_norm_eps"),
                RopeTheta = theta,
                RopeAlpha = alpha,
                UseQkNorm = OptionalBool("use_qk_norm") ?? false,
                NormTopKProb = OptionalBool("norm_topk_prob") ?? true,
                RoutedScalingFactor = PositiveNumber(OptionalDouble("routed_scaling_factor") ?? 1.0, "routed_scaling_factor"),
                TieWordEmbeddings = OptionalBool("tie_word_embeddings") ?? true,
                MaxPositionEmbeddings = Positive(OptionalInt("max_position_embeddings") ?? 32768, "max_position_embeddings"),
                BosTokenId = OptionalInt("bos_token_id") ?? 1,
                EosTokenId = OptionalInt("eos_token_id") ?? 127960,
                PadTokenId = OptionalInt("pad_token_id") ?? 127961,
                Quantization = Quantization(),
            };
        }

        private void CheckArchitecture()
        {
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFormatException($"{source}: expected a JSON object");
            }

            if (root.TryGetProperty("architectures", out JsonElement arch) && arch.ValueKind == JsonValueKind.Array)
            {
                string[] names = [.. arch.EnumerateArray().Select(a => a.ValueKind == JsonValueKind.String ? a.GetString() ?? string.Empty : a.GetRawText())];
                if (!names.Contains(Architecture))
                {
                    throw Error("architectures", $"[{string.Join(", ", names)}] is not {Architecture}: this engine runs Hunyuan-A13B-style MoE models only");
                }
            }
        }

        private int TopK(int layers)
        {
            int k = Uniform("moe_topk", layers, null);
            int experts = Int("num_experts");
            return k >= 1 && k <= experts ? k : throw Error("moe_topk", $"{k} is not between 1 and num_experts {experts}");
        }

        private (double Theta, double Alpha) Rope()
        {
            double theta = PositiveNumber(OptionalDouble("rope_theta") ?? 10000.0, "rope_theta");
            if (!root.TryGetProperty("rope_scaling", out JsonElement scaling) || scaling.ValueKind == JsonValueKind.Null)
            {
                return (theta, 1.0);
            }

            if (scaling.ValueKind != JsonValueKind.Object)
            {
                throw Error("rope_scaling", $"{scaling.GetRawText()} is not an object");
            }

            string? type = scaling.TryGetProperty("type", out JsonElement t) ? Text(t)
                : scaling.TryGetProperty("rope_type", out t) ? Text(t) : null;
            if (type != "dynamic")
            {
                throw Error("rope_scaling.type", $"'{type}' is not supported; Hunyuan uses 'dynamic' with a fixed NTK alpha");
            }

            if (!scaling.TryGetProperty("alpha", out JsonElement alpha) || alpha.ValueKind != JsonValueKind.Number)
            {
                throw Error("rope_scaling.alpha", "missing: the NTK-alpha base needs it (plain dynamic-NTK by factor is not supported)");
            }

            return (theta, PositiveNumber(alpha.GetDouble(), "rope_scaling.alpha"));
        }

        private QuantizationConfig Quantization()
        {
            if (!root.TryGetProperty("quantization_config", out JsonElement q) || q.ValueKind == JsonValueKind.Null)
            {
                return QuantizationConfig.None;
            }

            if (q.ValueKind != JsonValueKind.Object)
            {
                throw Error("quantization_config", $"{q.GetRawText()} is not an object");
            }

            string method = q.TryGetProperty("quant_method", out JsonElement m) ? Text(m) : string.Empty;
            switch (method)
            {
                case "gptq":
                    int bits = q.TryGetProperty("bits", out JsonElement b) ? Integer(b, "quantization_config.bits") : 4;
                    int group = q.TryGetProperty("group_size", out JsonElement g) ? Integer(g, "quantization_config.group_size") : 128;
                    string format = q.TryGetProperty("checkpoint_format", out JsonElement f) ? Text(f) : "gptq";
                    if (bits != 4)
                    {
                        throw Error("quantization_config.bits", $"{bits}-bit GPTQ is not supported (int4 only)");
                    }

                    if (format != "gptq")
                    {
                        throw Error("quantization_config.checkpoint_format", $"'{format}' is not supported (AutoGPTQ v1 'gptq' only)");
                    }

                    if (group <= 0 || group % 8 != 0)
                    {
                        throw Error("quantization_config.group_size", $"{group} is not supported (a positive multiple of 8; per-channel -1 is not)");
                    }

                    return new QuantizationConfig(CheckpointFormat.GptqInt4, 4, group,
                        !q.TryGetProperty("sym", out JsonElement s) || s.ValueKind != JsonValueKind.False,
                        q.TryGetProperty("desc_act", out JsonElement d) && d.ValueKind == JsonValueKind.True);
                case "fp8":
                    return new QuantizationConfig(CheckpointFormat.Fp8, 8, 0, true, false);
                default:
                    throw Error("quantization_config.quant_method", $"'{method}' is not supported (gptq int4 and fp8 are)");
            }
        }

        private ModelFormatException Error(string field, string message) => new($"{source}: {field}: {message}");

        private void Refuse(string field, Func<JsonElement, bool> unsupported, string why)
        {
            if (root.TryGetProperty(field, out JsonElement v) && unsupported(v))
            {
                throw Error(field, $"{v.GetRawText()}: {why}");
            }
        }

        private int Int(string field) => OptionalInt(field) ?? throw Error(field, "missing");

        private int? OptionalInt(string field)
        {
            if (!root.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            return Integer(v, field);
        }

        /// <summary>An int: a number too large for one says so, rather than that it is not an integer.</summary>
        private int Integer(JsonElement v, string field)
        {
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i))
            {
                return i;
            }

            bool whole = v.ValueKind == JsonValueKind.Number && v.TryGetDecimal(out decimal d) && d == decimal.Truncate(d)
                || v.ValueKind == JsonValueKind.Number && double.IsInteger(v.GetDouble());
            throw Error(field, whole ? $"{v.GetRawText()} is too large (at most {int.MaxValue})" : $"{v.GetRawText()} is not an integer");
        }

        private static string Text(JsonElement v) => v.ValueKind == JsonValueKind.String ? v.GetString() ?? string.Empty : v.GetRawText();

        private double PositiveNumber(double value, string field) =>
            value > 0 && double.IsFinite(value) ? value : throw Error(field, $"{value.ToString(System.Globalization.CultureInfo.InvariantCulture)} must be a positive number");

        // The kernels read it as a float: a double that rounds to 0 or to infinity there is refused too.
        private float PositiveFloat(double value, string field)
        {
            float f = (float)PositiveNumber(value, field);
            return f > 0 && float.IsFinite(f) ? f
                : throw Error(field, $"{value.ToString(System.Globalization.CultureInfo.InvariantCulture)} is too {(f > 0 ? "large" : "small")} for a float (the kernels' type)");
        }

        private double? OptionalDouble(string field)
        {
            if (!root.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            return v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw Error(field, $"{v.GetRawText()} is not a number");
        }

        private bool? OptionalBool(string field)
        {
            if (!root.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
            {
                return null;
            }

            return v.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw Error(field, $"{v.GetRawText()} is not true or false"),
            };
        }

        /// <summary>A per-layer list whose entries must all be equal (or a single integer).</summary>
        private int Uniform(string field, int layers, int? fallback)
        {
            if (!root.TryGetProperty(field, out JsonElement v) || v.ValueKind == JsonValueKind.Null)
            {
                return fallback ?? throw Error(field, "missing");
            }

            if (v.ValueKind == JsonValueKind.Number)
            {
                return Integer(v, field);
            }

            if (v.ValueKind != JsonValueKind.Array || v.GetArrayLength() == 0)
            {
                throw Error(field, $"{v.GetRawText()} is not an integer or a per-layer list");
            }

            int[] values = [.. v.EnumerateArray().Select(e => Integer(e, field))];
            if (values.Length < layers)
            {
                throw Error(field, $"has {values.Length} entries for {layers} layers");
            }

            return values.Distinct().Count() == 1
                ? values[0]
                : throw Error(field, $"differs between layers ([{string.Join(", ", values.Distinct())}]): mixed expert widths or counts are not supported");
        }

        private int Positive(int value, string field) => value > 0 ? value : throw Error(field, $"{value} must be positive");

        private int EvenPositive(int value, string field) =>
            value > 0 && value % 2 == 0 ? value : throw Error(field, $"{value} must be positive and even (RoPE rotates halves)");
    }
}
