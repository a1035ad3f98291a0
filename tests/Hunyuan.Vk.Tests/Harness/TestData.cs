namespace Hunyuan.Vk.Tests.Harness;

/// <summary>Seeded random inputs: the same numbers on every machine and run.</summary>
public static class TestData
{
    /// <summary>n floats uniform in [-scale, scale), none exactly zero.</summary>
    public static float[] Uniform(int seed, int n, float scale = 1f)
    {
        var random = new Random(seed);
        var data = new float[n];
        for (int i = 0; i < n; i++)
        {
            float v;
            do
            {
                v = (float)((random.NextDouble() * 2 - 1) * scale);
            }
            while (v == 0f);
            data[i] = v;
        }

        return data;
    }

    /// <summary>n values as IEEE half floats, and the same values widened back to float (the exact inputs the GPU sees).</summary>
    public static (Half[] Half, float[] Widened) UniformHalf(int seed, int n, float scale = 1f)
    {
        float[] f = Uniform(seed, n, scale);
        var h = new Half[n];
        var widened = new float[n];
        for (int i = 0; i < n; i++)
        {
            h[i] = (Half)f[i];
            widened[i] = (float)h[i];
        }

        return (h, widened);
    }
}
