using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Synthetic;
using Hunyuan.Vk.Model.Safetensors;
using Hunyuan.Vk.Reference;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>Random checkpoints made once per run in a temporary folder, and the bridge from them to the CPU reference.</summary>
public static class TestModels
{
    private static readonly Dictionary<GeneratorOptions, string> s_made = [];
    private static readonly string s_root = System.IO.Directory.CreateTempSubdirectory("hyvk-models-").FullName;

    private static readonly Lazy<string> s_realRankFile = new(Decompress);

    /// <summary>SHA-256 of Hunyuan-A13B's hy.tiktoken (docs/model.md 5.1).</summary>
    public const string RealRankFileSha256 = "51e1bf20514dc78d5496f9b791af3127eadcc906c830184bf954d5b11d60573f";

    /// <summary>The real hy.tiktoken, from the repository's compressed copy (TestData/hy.tiktoken.gz, with its licence
    /// notice), decompressed once per run and checked against its known SHA-256.</summary>
    public static string RealRankFile => s_realRankFile.Value;

    private static string Decompress()
    {
        string source = Path.Combine(RepoPaths.Root, "tests", "Hunyuan.Vk.Tests", "TestData", "hy.tiktoken.gz");
        string path = Path.Combine(s_root, "hy.tiktoken");
        using (FileStream input = File.OpenRead(source))
        using (var gzip = new System.IO.Compression.GZipStream(input, System.IO.Compression.CompressionMode.Decompress))
        using (FileStream output = File.Create(path))
        {
            gzip.CopyTo(output);
        }

        string sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
        return sha == RealRankFileSha256 ? path : throw new InvalidDataException($"{source} decompresses to sha256 {sha}, not hy.tiktoken's {RealRankFileSha256}");
    }

    /// <summary>The directory of a generated model with these options (made on first request).</summary>
    public static string Directory(GeneratorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        lock (s_made)
        {
            if (!s_made.TryGetValue(options, out string? dir))
            {
                dir = Path.Combine(s_root, $"m{s_made.Count}");
                new CheckpointGenerator(options).Write(dir);
                s_made[options] = dir;
            }

            return dir;
        }
    }

    public static GeneratorOptions Tiny(CheckpointFormat format = CheckpointFormat.Dense, DType type = DType.BF16, int shards = 1, ulong seed = 7) =>
        new() { Preset = ModelPreset.Tiny, Format = format, FloatType = type, Shards = shards, Seed = seed, TokenizerPath = RealRankFile };

    /// <summary>The tiny preset's config, without writing a checkpoint.</summary>
    public static HunyuanConfig TinyConfig() => new CheckpointGenerator(Tiny()).Config;

    public static ReferenceConfig ReferenceConfig(HunyuanConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return new ReferenceConfig
        {
            Hidden = c.HiddenSize,
            Layers = c.Layers,
            Heads = c.Heads,
            KvHeads = c.KvHeads,
            HeadDim = c.HeadDim,
            Vocab = c.VocabSize,
            Experts = c.Experts,
            TopK = c.TopK,
            ExpertIntermediate = c.ExpertIntermediate,
            SharedIntermediate = c.SharedIntermediate,
            RmsNormEps = c.RmsNormEps,
            RopeBase = c.RopeBase,
            UseQkNorm = c.UseQkNorm,
            NormTopKProb = c.NormTopKProb,
            RoutedScalingFactor = c.RoutedScalingFactor,
            TiedEmbeddings = c.TieWordEmbeddings,
        };
    }

    /// <summary>The CPU reference over a checkpoint's dequantized weights.</summary>
    public static ReferenceModel<T> Reference<T>(ModelWeights weights)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(weights);
        return new ReferenceModel<T>(ReferenceConfig(weights.Config), name => weights[name].ReadF32());
    }

    internal static void DeleteAll()
    {
        if (System.IO.Directory.Exists(s_root))
        {
            System.IO.Directory.Delete(s_root, recursive: true);
        }
    }
}
