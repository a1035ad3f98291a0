using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Generation;
using Hunyuan.Vk.Model.Safetensors;
using Hunyuan.Vk.Reference;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>Random checkpoints made once per run in a temporary folder, and the bridge from them to the CPU reference.</summary>
public static class TestModels
{
    private static readonly Dictionary<GeneratorOptions, string> s_made = [];
    private static readonly string s_root = System.IO.Directory.CreateTempSubdirectory("hyvk-models-").FullName;

    /// <summary>The real hy.tiktoken from ../shared when present, else null (the generator then ships cl100k_base).</summary>
    public static string? RealRankFile
    {
        get
        {
            string? shared = RepoPaths.Shared;
            string? path = shared is null ? null : Path.Combine(shared, "hunyuan-tokenizer", "hy.tiktoken");
            return path is not null && File.Exists(path) ? path : null;
        }
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
