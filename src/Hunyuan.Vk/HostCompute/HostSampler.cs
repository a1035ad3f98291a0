using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// The next token from the logits on the host, as the device's kernels choose it (argmax.comp, topk.comp, sample.comp,
/// repetition_penalty.comp): greedy takes the largest logit, the lowest index on a tie; sampling takes the top k (ties
/// to the lower index), a softmax at the temperature, the smallest prefix whose probability reaches top-p, and the
/// candidate where the uniform u falls. A logit that is not finite anywhere gives -1 (no token): the generator then
/// stops with its error. The repetition penalty divides a seen token's positive logit by the penalty and multiplies a
/// negative one, once per distinct token. Scratch is sized once.
/// </summary>
internal sealed class HostSampler
{
    public const int MaxK = 64;
    private readonly float[] _penalised;
    private readonly int[] _ids = new int[MaxK];
    private readonly float[] _values = new float[MaxK];

    public HostSampler(int vocab) => _penalised = new float[vocab];

    /// <summary>The logits after the repetition penalty over <paramref name="history"/> (the logits themselves when the
    /// penalty is 1).</summary>
    public ReadOnlySpan<float> Penalise(ReadOnlySpan<float> logits, ReadOnlySpan<int> history, float penalty)
    {
        if (penalty == 1f)
        {
            return logits;
        }

        logits.CopyTo(_penalised);
        foreach (int t in history)
        {
            float l = logits[t];
            _penalised[t] = l > 0 ? l / penalty : l * penalty;
        }

        return _penalised.AsSpan(0, logits.Length);
    }

    /// <summary>The largest logit's index (the lowest on a tie), or -1 when a logit is not finite. Two passes of
    /// 256-bit vectors: the max (and whether any x - x is not 0, which only NaN and infinities give), then the first
    /// index holding it.</summary>
    public static int Greedy(ReadOnlySpan<float> logits)
    {
        ref float l = ref MemoryMarshal.GetReference(logits);
        int n = logits.Length, i = 0;
        Vector256<float> max = Vector256.Create(float.NegativeInfinity), bad = Vector256<float>.Zero;
        for (; i + 8 <= n; i += 8)
        {
            Vector256<float> v = Vector256.LoadUnsafe(ref l, (nuint)i);
            max = Vector256.Max(max, v);
            bad |= ~Vector256.Equals(v - v, Vector256<float>.Zero);
        }

        float best = float.NegativeInfinity;
        for (int k = 0; k < 8; k++)
        {
            best = MathF.Max(best, max.GetElement(k));
        }

        bool finite = bad == Vector256<float>.Zero;
        for (int k = i; k < n; k++)
        {
            finite &= float.IsFinite(logits[k]);
            best = MathF.Max(best, logits[k]);
        }

        if (!finite)
        {
            return -1;
        }

        Vector256<float> target = Vector256.Create(best);
        for (i = 0; i + 8 <= n; i += 8)
        {
            uint hits = Vector256.Equals(Vector256.LoadUnsafe(ref l, (nuint)i), target).ExtractMostSignificantBits();
            if (hits != 0)
            {
                return i + BitOperations.TrailingZeroCount(hits);
            }
        }

        for (; i < n; i++)
        {
            if (logits[i] == best)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>A sampled token (see the type), or -1 when a logit is not finite.</summary>
    public int Sample(ReadOnlySpan<float> logits, int topK, float temperature, float topP, float u)
    {
        int k = Math.Clamp(topK, 1, Math.Min(MaxK, logits.Length));
        if (Greedy(logits) < 0)
        {
            return -1;
        }

        // Top k, best first: insertion into a sorted run; a later equal value goes after (ties to the lower index).
        int count = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float v = logits[i];
            if (count == k && v <= _values[k - 1])
            {
                continue;
            }

            int at = Math.Min(count, k - 1);
            while (at > 0 && _values[at - 1] < v)
            {
                _values[at] = _values[at - 1];
                _ids[at] = _ids[at - 1];
                at--;
            }

            _values[at] = v;
            _ids[at] = i;
            count = Math.Min(count + 1, k);
        }

        float top = _values[0], total = 0;
        for (int i = 0; i < count; i++)
        {
            total += MathF.Exp((_values[i] - top) / temperature);
        }

        int keep = count;
        float mass = 0;
        for (int i = 0; i < count; i++)
        {
            mass += MathF.Exp((_values[i] - top) / temperature) / total;
            if (mass >= topP)
            {
                keep = i + 1;
                break;
            }
        }

        float kept = 0;
        for (int i = 0; i < keep; i++)
        {
            kept += MathF.Exp((_values[i] - top) / temperature);
        }

        float target = u * kept, running = 0;
        for (int i = 0; i < keep; i++)
        {
            running += MathF.Exp((_values[i] - top) / temperature);
            if (target < running)
            {
                return _ids[i];
            }
        }

        return _ids[keep - 1];
    }
}
