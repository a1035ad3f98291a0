using System.Globalization;

namespace Hunyuan.Vk.Model;

/// <summary>What a tensor is for; decides which storage formats it may have.</summary>
public enum TensorRole
{
    /// <summary>The token embedding [vocab, hidden] (also the lm_head when tied).</summary>
    Embedding,

    /// <summary>An RMSNorm weight [n].</summary>
    Norm,

    /// <summary>The MoE router [experts, hidden]; kept in high precision (never quantized by the official recipes).</summary>
    Router,

    /// <summary>A projection [out, in]: dense, GPTQ-Int4 or FP8 in the checkpoint.</summary>
    Linear,

    /// <summary>An untied output projection [vocab, hidden].</summary>
    LmHead,
}

/// <summary>One tensor the config implies. For linears, <see cref="Name"/> has no suffix (<c>.weight</c>, <c>.qweight</c>...).</summary>
public sealed record TensorSpec(string Name, TensorRole Role, long[] Shape)
{
    public string ShapeText => "[" + string.Join(", ", Shape) + "]";
}

/// <summary>The Hugging Face tensor names of Hunyuan-A13B (docs/model.md 3.2), generated from a config.</summary>
public static class ModelLayout
{
    public const string Embedding = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    public static string Layer(int layer) => "model.layers." + layer.ToString(CultureInfo.InvariantCulture);

    public static string InputNorm(int l) => $"{Layer(l)}.input_layernorm.weight";
    public static string PostAttentionNorm(int l) => $"{Layer(l)}.post_attention_layernorm.weight";
    public static string QueryNorm(int l) => $"{Layer(l)}.self_attn.query_layernorm.weight";
    public static string KeyNorm(int l) => $"{Layer(l)}.self_attn.key_layernorm.weight";
    public static string Attention(int l, string proj) => $"{Layer(l)}.self_attn.{proj}_proj";
    public static string Router(int l) => $"{Layer(l)}.mlp.gate.wg.weight";
    public static string Shared(int l, string proj) => $"{Layer(l)}.mlp.shared_mlp.{proj}_proj";
    public static string Expert(int l, int e, string proj) => $"{Layer(l)}.mlp.experts.{e.ToString(CultureInfo.InvariantCulture)}.{proj}_proj";

    /// <summary>Every tensor of the model in checkpoint order (the lm_head only when not tied).</summary>
    public static IEnumerable<TensorSpec> Tensors(HunyuanConfig c)
    {
        ArgumentNullException.ThrowIfNull(c);
        yield return new(Embedding, TensorRole.Embedding, [c.VocabSize, c.HiddenSize]);
        for (int l = 0; l < c.Layers; l++)
        {
            foreach (TensorSpec t in LayerTensors(c, l))
            {
                yield return t;
            }
        }

        yield return new(FinalNorm, TensorRole.Norm, [c.HiddenSize]);
        if (!c.TieWordEmbeddings)
        {
            yield return new(LmHead, TensorRole.LmHead, [c.VocabSize, c.HiddenSize]);
        }
    }

    public static IEnumerable<TensorSpec> LayerTensors(HunyuanConfig c, int l)
    {
        ArgumentNullException.ThrowIfNull(c);
        int h = c.HiddenSize;
        yield return new(InputNorm(l), TensorRole.Norm, [h]);
        yield return new(Attention(l, "q"), TensorRole.Linear, [c.QueryDim, h]);
        yield return new(Attention(l, "k"), TensorRole.Linear, [c.KvDim, h]);
        yield return new(Attention(l, "v"), TensorRole.Linear, [c.KvDim, h]);
        yield return new(Attention(l, "o"), TensorRole.Linear, [h, c.QueryDim]);
        if (c.UseQkNorm)
        {
            yield return new(QueryNorm(l), TensorRole.Norm, [c.HeadDim]);
            yield return new(KeyNorm(l), TensorRole.Norm, [c.HeadDim]);
        }

        yield return new(PostAttentionNorm(l), TensorRole.Norm, [h]);
        yield return new(Router(l), TensorRole.Router, [c.Experts, h]);
        if (c.SharedExperts > 0)
        {
            yield return new(Shared(l, "gate"), TensorRole.Linear, [c.SharedIntermediate, h]);
            yield return new(Shared(l, "up"), TensorRole.Linear, [c.SharedIntermediate, h]);
            yield return new(Shared(l, "down"), TensorRole.Linear, [h, c.SharedIntermediate]);
        }

        for (int e = 0; e < c.Experts; e++)
        {
            yield return new(Expert(l, e, "gate"), TensorRole.Linear, [c.ExpertIntermediate, h]);
            yield return new(Expert(l, e, "up"), TensorRole.Linear, [c.ExpertIntermediate, h]);
            yield return new(Expert(l, e, "down"), TensorRole.Linear, [h, c.ExpertIntermediate]);
        }
    }
}
