using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Model.Safetensors;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Model.Synthetic;

/// <summary>
/// Writes a random Hunyuan-A13B-style checkpoint in the exact Hugging Face layout: config.json, generation_config.json,
/// the tokenizer, safetensors (sharded with an index when asked) with the real tensor names, dense or GPTQ-Int4 or FP8.
/// Weights are scaled so activations stay O(1) through the layers (linears: std 1/sqrt(in); norms near 1) and the router
/// is sharper (std 3/sqrt(in)) so its top-k is not a near-tie. Every value is reproducible from the seed and the tensor
/// name (<see cref="ExpectedValues"/>), so tests need not trust the file.
/// </summary>
public sealed class CheckpointGenerator
{
    private const int GptqGroup = 128;
    private readonly GeneratorOptions _options;
    private readonly PresetShape _shape;

    public CheckpointGenerator(GeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _shape = PresetShape.For(options.Preset) with { Layers = options.Layers ?? PresetShape.For(options.Preset).Layers };
        if (_shape.Layers < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"--layers {_shape.Layers}: at least one layer");
        }

        if (options.Vocab is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"--vocab {options.Vocab}: at least one token");
        }

        if (options.Shards < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"--shards {options.Shards}: at least one shard");
        }

        Special = TokenizerFiles.SpecialTokensOf(options.TokenizerPath);
        Config = HunyuanConfig.Parse(ConfigJson(), "generated config.json");
        TensorCount = ModelLayout.Tensors(Config).SelectMany(Entries).Count();   // entries are lazy: no data made here
        if (options.Shards > TensorCount)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"--shards {options.Shards}: the checkpoint has {TensorCount} tensors, so at most {TensorCount} shards");
        }
    }

    /// <summary>Tensors the checkpoint's files hold (a GPTQ linear is four, an FP8 one three).</summary>
    public int TensorCount { get; }

    public HunyuanConfig Config { get; }

    /// <summary>The special tokens of the tokenizer it ships: the ids config.json and generation_config.json name.</summary>
    public SpecialTokens Special { get; }

    /// <summary>config.json with the real field names and per-layer lists.</summary>
    public string ConfigJson()
    {
        PresetShape s = _shape;
        var layers = Enumerable.Range(0, s.Layers);
        var config = new JsonObject
        {
            ["architectures"] = new JsonArray(HunyuanConfig.Architecture),
            ["model_type"] = "hunyuan",
            ["hidden_size"] = s.Hidden,
            ["num_hidden_layers"] = s.Layers,
            ["num_attention_heads"] = s.Heads,
            ["num_key_value_heads"] = s.KvHeads,
            ["attention_head_dim"] = s.HeadDim,
            ["intermediate_size"] = s.Intermediate,
            ["moe_intermediate_size"] = new JsonArray(layers.Select(_ => (JsonNode)s.Intermediate).ToArray()),
            ["num_experts"] = s.Experts,
            ["moe_topk"] = new JsonArray(layers.Select(_ => (JsonNode)s.TopK).ToArray()),
            ["num_shared_expert"] = new JsonArray(layers.Select(_ => (JsonNode)1).ToArray()),
            ["moe_layer_num_skipped"] = 0,
            ["use_mixed_mlp_moe"] = true,
            ["norm_topk_prob"] = true,
            ["routed_scaling_factor"] = 1.0,
            ["group_limited_greedy"] = false,
            ["hidden_act"] = "silu",
            ["norm_type"] = "rms",
            ["rms_norm_eps"] = 1e-5,
            ["use_qk_norm"] = true,
            ["use_rotary_pos_emb"] = true,
            ["rope_theta"] = 10000.0,
            ["rope_scaling"] = new JsonObject
            {
                ["type"] = "dynamic", ["alpha"] = 1000.0, ["factor"] = 1.0, ["beta_fast"] = 32, ["beta_slow"] = 1,
                ["mscale"] = 1.0, ["mscale_all_dim"] = 1.0,
            },
            ["max_position_embeddings"] = 32768,
            ["use_cla"] = false,
            ["cla_share_factor"] = 2,
            ["use_mla"] = false,
            ["attention_bias"] = false,
            ["mlp_bias"] = false,
            ["tie_word_embeddings"] = _options.TieEmbeddings,
            ["vocab_size"] = _options.Vocab ?? PresetShape.Vocab,
            ["org_vocab_size"] = _options.Vocab ?? PresetShape.Vocab,
            ["bos_token_id"] = 1,
            ["eos_token_id"] = Special.Eos,
            ["eod_token_id"] = Special.Extra5,
            ["pad_token_id"] = Special.Pad,
            ["sep_token_id"] = Special.Extra0,
            ["torch_dtype"] = _options.FloatType switch { DType.F16 => "float16", DType.F32 => "float32", _ => "bfloat16" },
            ["transformers_version"] = "4.41.2",
        };
        if (_options.Format == CheckpointFormat.GptqInt4)
        {
            config["quantization_config"] = new JsonObject
            {
                ["quant_method"] = "gptq", ["bits"] = 4, ["group_size"] = GptqGroup, ["desc_act"] = false, ["static_groups"] = true,
                ["sym"] = true, ["true_sequential"] = true, ["checkpoint_format"] = "gptq",
            };
        }
        else if (_options.Format == CheckpointFormat.Fp8)
        {
            config["quantization_config"] = new JsonObject
            {
                ["quant_method"] = "fp8", ["activation_scheme"] = "static", ["ignored_layers"] = new JsonArray("lm_head"),
            };
        }

        return config.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>generation_config.json with the release's sampling values and the shipped tokenizer's stop ids.</summary>
    public string GenerationConfigJson() => FormattableString.Invariant($$"""
        {
          "do_sample": true,
          "temperature": 0.7,
          "top_k": 20,
          "top_p": 0.8,
          "repetition_penalty": 1.05,
          "eos_token_id": [{{Special.Eos}}, {{Special.Extra5}}],
          "pad_token_id": {{Special.Pad}}
        }
        """);

    /// <summary>The random values behind a tensor, before any rounding or quantization.</summary>
    public float[] RawValues(TensorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int cols = (int)spec.Shape[^1];
        var values = new float[spec.Shape.Aggregate(1L, (a, d) => a * d)];
        (float mean, float std) = spec.Role switch
        {
            TensorRole.Embedding => (0f, 1f),
            TensorRole.Norm => (1f, 0.1f),
            TensorRole.Router => (0f, 3f / MathF.Sqrt(cols)),
            _ => (0f, 1f / MathF.Sqrt(cols)),
        };
        RandomWeights.Fill(_options.Seed, spec.Name, values, cols, mean, std);
        return values;
    }

    /// <summary>What a correct reader must get for this tensor: the stored-type rounding, or the dequantized values.</summary>
    public float[] ExpectedValues(TensorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        float[] raw = RawValues(spec);
        if (spec.Role == TensorRole.Linear && _options.Format == CheckpointFormat.GptqInt4)
        {
            return GptqPacker.Dequantize(Gptq(spec, raw), (int)spec.Shape[0], (int)spec.Shape[1]);
        }

        if (spec.Role == TensorRole.Linear && _options.Format == CheckpointFormat.Fp8)
        {
            float scale = Fp8Scale(raw);
            return raw.Select(v => Numerics.E4M3ToFloat(Numerics.FloatToE4M3(v / scale)) * scale).ToArray();
        }

        return raw.Select(RoundToStored).ToArray();
    }

    /// <summary>Writes the model directory. The files go to a temporary directory, NAME.partial-PID, renamed into place
    /// at the end and removed on any failure or on <paramref name="cancel"/>; one left by a run that was killed (its
    /// process gone) is removed by the next run for the same directory. <paramref name="tensorWritten"/>, when given, is
    /// called after each tensor (a command's tests use it to hold the write at a known point).</summary>
    public void Write(string outputDirectory, Action<string>? progress = null, Action? tensorWritten = null, CancellationToken cancel = default)
    {
        string full = Path.GetFullPath(outputDirectory).TrimEnd(Path.DirectorySeparatorChar);
        if (File.Exists(full))
        {
            throw new IOException($"{full}: is a file; --out names a directory to create");
        }

        if (Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            throw new IOException($"{full}: exists and is not empty; choose a new directory");
        }

        RemoveStaleStaging(full, progress);
        string staging = full + StagingSuffix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true);
        }

        Directory.CreateDirectory(staging);
        try
        {
            File.WriteAllText(Path.Combine(staging, "config.json"), ConfigJson());
            File.WriteAllText(Path.Combine(staging, "generation_config.json"), GenerationConfigJson());
            TokenizerFiles.Write(staging, _options.TokenizerPath, Special);
            WriteTensors(staging, progress, tensorWritten, cancel);
            if (Directory.Exists(full))
            {
                Directory.Delete(full);
            }

            Directory.Move(staging, full);
        }
        catch
        {
            Directory.Delete(staging, recursive: true);
            throw;
        }
    }

    /// <summary>What follows an output directory's name in its staging directory's, before the writer's process id.</summary>
    public const string StagingSuffix = ".partial-";

    /// <summary>Deletes NAME.partial-PID directories beside <paramref name="full"/> whose process is no longer running.</summary>
    private static void RemoveStaleStaging(string full, Action<string>? progress)
    {
        string? parent = Path.GetDirectoryName(full);
        string prefix = Path.GetFileName(full) + StagingSuffix;
        if (parent is null || !Directory.Exists(parent))
        {
            return;
        }

        foreach (string dir in Directory.EnumerateDirectories(parent, prefix + "*"))
        {
            if (int.TryParse(Path.GetFileName(dir).AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) && !IsRunning(pid))
            {
                Directory.Delete(dir, recursive: true);
                progress?.Invoke($"removed {dir}, left by an earlier run that did not finish");
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private void WriteTensors(string directory, Action<string>? progress, Action? tensorWritten, CancellationToken cancel)
    {
        List<SafetensorsWriter.Entry> entries = ModelLayout.Tensors(Config).SelectMany(Entries).ToList();
        long total = entries.Sum(e => e.Bytes);

        // Balanced split in checkpoint order: each shard takes tensors until it holds its share of what is left.
        var groups = new List<List<SafetensorsWriter.Entry>> { new() };
        long remaining = total, inShard = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            int shardsLeft = Math.Min(_options.Shards, entries.Count) - groups.Count + 1;
            groups[^1].Add(entries[i]);
            inShard += entries[i].Bytes;
            remaining -= entries[i].Bytes;
            bool full = inShard >= (inShard + remaining) / shardsLeft;
            if (shardsLeft > 1 && i < entries.Count - 1 && (full || entries.Count - 1 - i == shardsLeft - 1))
            {
                groups.Add([]);
                inShard = 0;
            }
        }

        int shards = groups.Count;
        var files = groups.Select((list, i) => (Name: shards == 1 ? Checkpoint.SingleFile : $"model-{i + 1:D5}-of-{shards:D5}.safetensors", Entries: list)).ToList();
        long done = 0, reported = 0;
        foreach ((string name, List<SafetensorsWriter.Entry> list) in files)
        {
            progress?.Invoke($"writing {name} ({list.Count} tensors, {list.Sum(e => e.Bytes) / 1e6:F1} MB)");
            long before = done;
            cancel.ThrowIfCancellationRequested();
            SafetensorsWriter.Write(Path.Combine(directory, name), list, bytes =>
            {
                tensorWritten?.Invoke();
                cancel.ThrowIfCancellationRequested();   // after each tensor
                done = before + bytes;
                if (done - reported >= total / 10 && done < total)   // a line per tenth of the checkpoint
                {
                    reported = done;
                    progress?.Invoke($"{100.0 * done / total:F0}% ({done / 1e6:F0} of {total / 1e6:F0} MB)");
                }
            });
        }

        if (shards > 1)
        {
            var map = new JsonObject();
            foreach ((string name, List<SafetensorsWriter.Entry> list) in files)
            {
                foreach (SafetensorsWriter.Entry e in list)
                {
                    map[e.Name] = name;
                }
            }

            var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = map };
            File.WriteAllText(Path.Combine(directory, Checkpoint.IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
    }

    private IEnumerable<SafetensorsWriter.Entry> Entries(TensorSpec spec)
    {
        DType floatType = _options.FloatType;
        if (spec.Role != TensorRole.Linear || _options.Format == CheckpointFormat.Dense)
        {
            string name = spec.Role == TensorRole.Linear ? spec.Name + ".weight" : spec.Name;
            yield return new(name, floatType, spec.Shape, s => WriteFloats(s, RawValues(spec), floatType));
            yield break;
        }

        long outDim = spec.Shape[0], inDim = spec.Shape[1];
        if (_options.Format == CheckpointFormat.Fp8)
        {
            yield return new(spec.Name + ".weight", DType.F8E4M3, spec.Shape, s =>
            {
                float[] raw = RawValues(spec);
                float scale = Fp8Scale(raw);
                s.Write(raw.Select(v => Numerics.FloatToE4M3(v / scale)).ToArray());
            });
            yield return new(spec.Name + ".weight_scale", DType.F32, [], s => WriteFloats(s, [Fp8Scale(RawValues(spec))], DType.F32));
            yield return new(spec.Name + ".input_scale", DType.F32, [], s => WriteFloats(s, [1f], DType.F32));
            yield break;
        }

        // GPTQ: the four tensors of one linear are written one after another; quantize once for all four.
        GptqPacker.Packed? packed = null;
        GptqPacker.Packed Pack() => packed ??= Gptq(spec, RawValues(spec));
        yield return new(spec.Name + ".qweight", DType.I32, [inDim / 8, outDim], s => WriteInts(s, Pack().QWeight));
        yield return new(spec.Name + ".qzeros", DType.I32, [inDim / GptqGroup, outDim / 8], s => WriteInts(s, Pack().QZeros));
        yield return new(spec.Name + ".scales", floatType, [inDim / GptqGroup, outDim], s => WriteFloats(s, Pack().Scales, floatType));
        yield return new(spec.Name + ".g_idx", DType.I32, [inDim], s => WriteInts(s, Pack().GIdx));
    }

    private GptqPacker.Packed Gptq(TensorSpec spec, float[] raw) =>
        GptqPacker.Quantize(raw, (int)spec.Shape[0], (int)spec.Shape[1], GptqGroup, RoundToStored);

    private static float Fp8Scale(float[] raw)
    {
        float max = raw.Max(Math.Abs);
        return max > 0 ? max / 448f : 1f;
    }

    private float RoundToStored(float v) => _options.FloatType switch
    {
        DType.BF16 => Numerics.Bf16ToFloat(Numerics.FloatToBf16(v)),
        DType.F16 => (float)(Half)v,
        _ => v,
    };

    private static void WriteFloats(Stream s, float[] values, DType type)
    {
        int size = type.Size();
        var buffer = new byte[Math.Min(values.Length, 1 << 16) * size];
        for (int start = 0; start < values.Length; start += buffer.Length / size)
        {
            int n = Math.Min(buffer.Length / size, values.Length - start);
            for (int i = 0; i < n; i++)
            {
                float v = values[start + i];
                Span<byte> at = buffer.AsSpan(i * size);
                switch (type)
                {
                    case DType.BF16: BinaryPrimitives.WriteUInt16LittleEndian(at, Numerics.FloatToBf16(v)); break;
                    case DType.F16: BinaryPrimitives.WriteHalfLittleEndian(at, (Half)v); break;
                    default: BinaryPrimitives.WriteSingleLittleEndian(at, v); break;
                }
            }

            s.Write(buffer, 0, n * size);
        }
    }

    private static void WriteInts(Stream s, int[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), values[i]);
        }

        s.Write(bytes);
    }
}
