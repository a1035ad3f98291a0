using System.Text;

namespace Hunyuan.Vk.Model.Synthetic;

/// <summary>
/// Deterministic pseudo-random weights: the values of a tensor depend only on the seed, its name and its position,
/// so a test can recompute any tensor the generator wrote without reading the file. Uniform with a chosen standard
/// deviation (a uniform on [-a, a] has std a / sqrt(3)).
/// </summary>
public static class RandomWeights
{
    /// <summary>Fills <paramref name="values"/> ([rows, cols] row-major) with mean <paramref name="mean"/> and standard deviation <paramref name="std"/>.</summary>
    public static void Fill(ulong seed, string name, Span<float> values, int cols, float mean, float std)
    {
        ArgumentNullException.ThrowIfNull(name);
        ulong tensorSeed = Mix(seed ^ Fnv1a(name));
        float halfWidth = std * MathF.Sqrt(3f);
        int rows = values.Length / cols;
        for (int r = 0; r < rows; r++)
        {
            ulong state = Mix(tensorSeed + (ulong)(r + 1) * 0x9E3779B97F4A7C15UL);
            Span<float> row = values.Slice(r * cols, cols);
            for (int c = 0; c < cols; c++)
            {
                state += 0x9E3779B97F4A7C15UL;
                // 24 random bits -> uniform in [-1, 1)
                float u = (Mix(state) >> 40) * (1f / (1 << 23)) - 1f;
                row[c] = mean + u * halfWidth;
            }
        }
    }

    /// <summary>SplitMix64's finaliser: a good 64-bit mix.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    private static ulong Fnv1a(string s)
    {
        ulong h = 0xCBF29CE484222325UL;
        foreach (byte b in Encoding.UTF8.GetBytes(s))
        {
            h = (h ^ b) * 0x100000001B3UL;
        }

        return h;
    }
}
