using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Synthetic;
using Hunyuan.Vk.Model.Safetensors;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Model;

/// <summary>Loading checkpoints: every format reads back what the generator wrote, and every kind of damage gets one clear error.</summary>
public sealed class CheckpointTests
{
    private string _scratch = string.Empty;

    [SetUp]
    public void Scratch() => _scratch = Directory.CreateTempSubdirectory("hyvk-ckpt-").FullName;

    [TearDown]
    public void RemoveScratch() => Directory.Delete(_scratch, recursive: true);

    private static readonly object[] s_formats =
    [
        new object[] { CheckpointFormat.Dense, DType.BF16, 1 },
        new object[] { CheckpointFormat.Dense, DType.F16, 2 },
        new object[] { CheckpointFormat.Dense, DType.F32, 3 },
        new object[] { CheckpointFormat.GptqInt4, DType.BF16, 1 },
        new object[] { CheckpointFormat.GptqInt4, DType.F16, 3 },
        new object[] { CheckpointFormat.Fp8, DType.BF16, 2 },
    ];

    [TestCaseSource(nameof(s_formats))]
    public void Every_tensor_reads_back_exactly_what_the_generator_wrote(CheckpointFormat format, DType type, int shards)
    {
        GeneratorOptions options = TestModels.Tiny(format, type, shards);
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(options));
        var generator = new CheckpointGenerator(options);
        Assert.That(weights.Checkpoint.Files, Has.Count.EqualTo(shards));
        foreach (TensorSpec spec in ModelLayout.Tensors(weights.Config))
        {
            float[] expected = generator.ExpectedValues(spec);
            float[] actual = weights[spec.Name].ReadF32();
            int bad = Enumerable.Range(0, expected.Length).FirstOrDefault(i => BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]), -1);
            Assert.That(bad, Is.EqualTo(-1), () => $"{spec.Name}[{bad}]: expected {expected[bad]}, read {actual[bad]} ({weights[spec.Name].Source})");
        }
    }

    [TestCase(CheckpointFormat.GptqInt4)]
    [TestCase(CheckpointFormat.Fp8)]
    public void Quantized_linears_stay_close_to_the_values_they_encode(CheckpointFormat format)
    {
        GeneratorOptions options = TestModels.Tiny(format, DType.F32);
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(options));
        var generator = new CheckpointGenerator(options);
        TensorSpec spec = ModelLayout.LayerTensors(weights.Config, 1).First(s => s.Name.EndsWith("experts.3.down_proj", StringComparison.Ordinal));
        StoredTensor stored = weights[spec.Name];
        Assert.That(stored, format == CheckpointFormat.GptqInt4 ? Is.TypeOf<GptqTensor>() : Is.TypeOf<Fp8Tensor>());
        float[] raw = generator.RawValues(spec), read = stored.ReadF32();
        // Int4 with 16 levels over [-max, max] of each group; E4M3 has 3 mantissa bits (relative error <= 1/16).
        double limit = format == CheckpointFormat.GptqInt4 ? 1e-2 : 2e-3;
        AssertNmse.Close(raw, read, limit, $"{format} {spec.Name} vs its unquantized values");
    }

    [Test]
    public void Lm_head_is_the_embedding_when_tied()
    {
        using ModelWeights weights = ModelWeights.Open(TestModels.Directory(TestModels.Tiny()));
        Assert.That(weights.Checkpoint.Contains(ModelLayout.LmHead), Is.False);
        Assert.That(weights.LmHead, Is.SameAs(weights[ModelLayout.Embedding]));
    }

    [Test]
    public void An_untied_config_reads_lm_head_and_is_refused_without_it()
    {
        string dir = Copy(TestModels.Tiny());
        string config = Path.Combine(dir, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"tie_word_embeddings\": true", "\"tie_word_embeddings\": false", StringComparison.Ordinal));
        // #16: before, the head was quietly the embedding.
        Assert.That(() => ModelWeights.Open(dir), Throws.TypeOf<ModelFormatException>()
            .With.Message.Contains("tie_word_embeddings false, but the checkpoint has no lm_head.weight"));

        Rewrite(dir, t => (t.Name, t.Type, t.Shape), extra: ("lm_head.weight", "model.embed_tokens.weight"));
        using (ModelWeights weights = ModelWeights.Open(dir))
        {
            Assert.That(weights.LmHead, Is.Not.SameAs(weights[ModelLayout.Embedding]));
            Assert.That(weights.LmHead.Source, Does.Contain("lm_head.weight"));
        }
    }

    [Test]
    public void A_truncated_file_is_named()
    {
        string dir = Copy(TestModels.Tiny());
        string file = Path.Combine(dir, Checkpoint.SingleFile);
        using (var s = new FileStream(file, FileMode.Open))
        {
            s.SetLength(s.Length - 1000);
        }

        Assert.That(() => ModelWeights.Open(dir), Throws.TypeOf<ModelFormatException>()
            .With.Message.Contains("model.safetensors: tensor '").And.Message.Contains("truncated file"));
    }

    [Test]
    public void A_corrupt_header_is_named()
    {
        string dir = Copy(TestModels.Tiny());
        string file = Path.Combine(dir, Checkpoint.SingleFile);
        using (var s = new FileStream(file, FileMode.Open))
        {
            s.Position = 9;
            s.Write("\u0001\u0002garbage"u8);
        }

        Assert.That(() => ModelWeights.Open(dir), Throws.TypeOf<ModelFormatException>()
            .With.Message.Contains("model.safetensors: the header is not valid JSON"));
    }

    /// <summary>#16 point 2 and 3: headers that gave .NET stack traces or were taken as they were; each now fails on open,
    /// naming the file and what is wrong.</summary>
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "4 bytes after the last tensor's data belong to no tensor")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "4 bytes of data between the header and tensor 'a' belong to no tensor")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12, "4 bytes of data between tensor 'a' and tensor 'b'")]
    [TestCase("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8, "tensor 'a' is listed twice")]
    [TestCase("{\"__metadata__\":[1],\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "__metadata__ is a JSON array, not an object")]
    [TestCase("{\"a\xff\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "not valid UTF-8")]
    [TestCase("{\"a\":{\"dtype\":\"F\xc3\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'a': malformed header entry (Cannot transcode invalid UTF-8")]
    public void A_header_that_does_not_describe_the_data_exactly_is_named(string header, int dataBytes, string message)
    {
        string file = Path.Combine(_scratch, "x.safetensors");
        // \xNN in the header stands for the raw byte (invalid UTF-8 on purpose).
        byte[] json = [.. header.Select(c => (byte)c)];
        int padded = (json.Length + 7) / 8 * 8;
        byte[] bytes = new byte[8 + padded + dataBytes];
        BitConverter.GetBytes((long)padded).CopyTo(bytes, 0);
        json.CopyTo(bytes, 8);
        bytes.AsSpan(8 + json.Length, padded - json.Length).Fill((byte)' ');
        File.WriteAllBytes(file, bytes);
        Assert.That(() => SafetensorsFile.Open(file).Dispose(), Throws.TypeOf<ModelFormatException>().With.Message.Contains("x.safetensors: ").And.Message.Contains(message));
    }

    /// <summary>#16 point 3: a NaN or infinity in a weight (q_proj, a norm, the embedding) fails while it is read,
    /// naming the tensor and the first bad index (before: every logit NaN, the text "!!", exit 0).</summary>
    [TestCase("model.layers.1.self_attn.q_proj.weight", 0x7FC0, 77, "NaN")]
    [TestCase("model.layers.0.input_layernorm.weight", 0xFF80, 5, "-Infinity")]
    [TestCase("model.embed_tokens.weight", 0x7F80, 300, "Infinity")]
    public void A_weight_that_is_not_finite_is_named_with_its_index(string tensor, int bf16, int index, string shown)
    {
        // The model names a linear without ".weight"; a norm and the embedding by their stored names.
        string name = tensor.Contains("_proj", StringComparison.Ordinal) ? tensor[..^".weight".Length] : tensor;
        string dir = Copy(TestModels.Tiny());
        string file = Path.Combine(dir, Checkpoint.SingleFile);
        long offset;
        long[] shape;
        using (SafetensorsFile f = SafetensorsFile.Open(file))
        {
            TensorInfo t = f.Tensors[tensor];
            Assert.That(t.Type, Is.EqualTo(DType.BF16));
            (offset, shape) = (t.Offset, t.Shape);
        }

        using (var s = new FileStream(file, FileMode.Open))
        {
            s.Position = offset + 2L * index;
            s.Write(BitConverter.GetBytes((ushort)bf16));
        }

        using ModelWeights weights = ModelWeights.Open(dir);
        string at = shape.Length == 2 ? $"[{index / shape[1]}, {index % shape[1]}]" : $"[{index}]";
        Assert.That(() => weights[name].ReadF32(), Throws.TypeOf<ModelFormatException>()
            .With.Message.Contains($"model.safetensors: tensor '{tensor}' holds {shown} at index {index} ({at})"));
    }

    [Test]
    public void A_header_length_of_2_to_the_63_is_printed_as_it_is()
    {
        string file = Path.Combine(_scratch, "x.safetensors");
        byte[] bytes = new byte[64];
        BitConverter.GetBytes(1UL << 63).CopyTo(bytes, 0);
        File.WriteAllBytes(file, bytes);
        Assert.That(() => SafetensorsFile.Open(file).Dispose(), Throws.TypeOf<ModelFormatException>().With.Message.Contains("header length 9223372036854775808 does not fit"));
    }

    [Test]
    public void A_file_that_is_not_safetensors_is_named()
    {
        string dir = Copy(TestModels.Tiny());
        File.WriteAllText(Path.Combine(dir, Checkpoint.SingleFile), "this is not a safetensors file at all");
        Assert.That(() => ModelWeights.Open(dir), Throws.TypeOf<ModelFormatException>()
            .With.Message.Contains("model.safetensors: header length"));
    }

    [Test]
    public void A_missing_tensor_is_named()
    {
        string dir = Copy(TestModels.Tiny());
        Rewrite(dir, t => t.Name == "model.layers.1.mlp.experts.5.up_proj.weight" ? null : (t.Name, t.Type, t.Shape));
        Assert.That(() => ModelWeights.Open(dir), Throws.TypeOf<ModelFormatException>()
            .With.Message.Contains("tensor 'model.layers.1.mlp.experts.5.up_proj.weight' is missing"));
    }

    [Test]
    public void A_wrong_shape_is_named_with_the_expected_one()
    {
        string dir = Copy(TestModels.Tiny());
        Rewrite(dir, t => t.Name == "model.layers.0.input_layernorm.weight" ? (t.Name, t.Type, [2, 64]) : (t.Name, t.Type, t.Shape));
        Assert.That(() => ModelWeights.Open(dir), Throws.TypeOf<ModelFormatException>()
            .With.Message.Contains("'model.layers.0.input_layernorm.weight' has shape [2, 64], but config.json implies [128]"));
    }

    [Test]
    public void A_wrong_dtype_is_named()
    {
        string dir = Copy(TestModels.Tiny());
        Rewrite(dir, t => t.Name == "model.norm.weight" ? (t.Name, DType.I32, [64]) : (t.Name, t.Type, t.Shape));
        Assert.That(() => ModelWeights.Open(dir), Throws.TypeOf<ModelFormatException>()
            .With.Message.Contains("'model.norm.weight' has dtype I32"));
    }

    [Test]
    public void A_shard_missing_from_the_index_or_the_disk_is_named()
    {
        string dir = Copy(TestModels.Tiny(shards: 2));
        File.Delete(Path.Combine(dir, "model-00002-of-00002.safetensors"));
        Assert.That(() => ModelWeights.Open(dir), Throws.TypeOf<ModelFormatException>()
            .With.Message.Contains("model-00002-of-00002.safetensors: not found"));
    }

    [Test]
    public void A_missing_config_or_directory_is_named()
    {
        Assert.That(() => ModelWeights.Open(Path.Combine(_scratch, "nope")), Throws.TypeOf<ModelFormatException>().With.Message.Contains("not found"));
        string dir = Copy(TestModels.Tiny());
        File.Delete(Path.Combine(dir, "config.json"));
        Assert.That(() => ModelWeights.Open(dir), Throws.TypeOf<ModelFormatException>().With.Message.Contains("config.json: not found"));
    }

    [Test]
    public void An_unsupported_config_is_refused_before_any_tensor_is_read()
    {
        string dir = Copy(TestModels.Tiny());
        string path = Path.Combine(dir, "config.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"use_cla\": false", "\"use_cla\": true", StringComparison.Ordinal));
        Assert.That(() => ModelWeights.Open(dir), Throws.TypeOf<ModelFormatException>().With.Message.Contains("use_cla"));
    }

    [Test]
    public void The_generator_refuses_a_non_empty_directory_and_leaves_nothing_half_written()
    {
        string target = Path.Combine(_scratch, "taken");
        Directory.CreateDirectory(target);
        File.WriteAllText(Path.Combine(target, "keep.txt"), "mine");
        Assert.That(() => new CheckpointGenerator(TestModels.Tiny()).Write(target), Throws.TypeOf<IOException>().With.Message.Contains("not empty"));
        Assert.That(Directory.GetFileSystemEntries(_scratch), Is.EquivalentTo(new[] { target }));

        Assert.That(() => new CheckpointGenerator(TestModels.Tiny() with { TokenizerPath = "/no/such/hy.tiktoken" }).Write(Path.Combine(_scratch, "new")),
            Throws.TypeOf<FileNotFoundException>());
        Assert.That(Directory.GetFileSystemEntries(_scratch), Is.EquivalentTo(new[] { target }), "no partial directory left behind");
    }

    private string Copy(GeneratorOptions options)
    {
        string source = TestModels.Directory(options);
        string target = Path.Combine(_scratch, "model");
        Directory.CreateDirectory(target);
        foreach (string f in Directory.GetFiles(source))
        {
            File.Copy(f, Path.Combine(target, Path.GetFileName(f)));
        }

        return target;
    }

    /// <summary>Rewrites model.safetensors keeping each tensor's bytes but with the name/dtype/shape <paramref name="change"/> gives (null drops it).</summary>
    private static void Rewrite(string dir, Func<TensorInfo, (string Name, DType Type, long[] Shape)?> change, (string Name, string CopyOf)? extra = null)
    {
        string file = Path.Combine(dir, Checkpoint.SingleFile);
        var entries = new List<SafetensorsWriter.Entry>();
        using (SafetensorsFile st = SafetensorsFile.Open(file))
        {
            foreach (TensorInfo t in st.Tensors.Values.OrderBy(t => t.Offset))
            {
                if (change(t) is (string name, DType type, long[] shape))
                {
                    byte[] bytes = t.ReadAllBytes();
                    entries.Add(new SafetensorsWriter.Entry(name, type, shape, s => s.Write(bytes)));
                }
            }

            if (extra is (string extraName, string copyOf))
            {
                TensorInfo t = st.Tensors[copyOf];
                byte[] bytes = t.ReadAllBytes();
                entries.Add(new SafetensorsWriter.Entry(extraName, t.Type, t.Shape, s => s.Write(bytes)));
            }
        }

        SafetensorsWriter.Write(file, entries);
    }
}
