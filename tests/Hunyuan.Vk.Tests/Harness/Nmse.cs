namespace Hunyuan.Vk.Tests.Harness;

/// <summary>
/// Normalised mean squared error, sum((expected - actual)^2) / sum(expected^2), the measure llama.cpp's
/// test-backend-ops uses. Failures name the worst index; any NaN or infinity fails.
/// </summary>
public static class Nmse
{
    public readonly record struct Result(double Value, int WorstIndex, double WorstError);

    public static Result Compute(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        if (expected.Length != actual.Length)
        {
            throw new ArgumentException($"Lengths differ: expected {expected.Length}, actual {actual.Length}");
        }

        double err = 0, norm = 0, worst = -1;
        int worstIndex = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = (double)expected[i] - actual[i];
            if (!double.IsFinite(actual[i]) || !double.IsFinite(expected[i]))
            {
                return new Result(double.NaN, i, double.NaN);
            }

            err += d * d;
            norm += (double)expected[i] * expected[i];
            if (Math.Abs(d) > worst)
            {
                worst = Math.Abs(d);
                worstIndex = i;
            }
        }

        return new Result(norm == 0 ? (err == 0 ? 0 : double.PositiveInfinity) : err / norm, worstIndex, worst);
    }

    /// <summary>Asserts NMSE &lt;= <paramref name="limit"/>; the message names the worst index and both values there.</summary>
    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double limit, string what)
    {
        Result r = Compute(expected, actual);
        int i = r.WorstIndex;
        string detail = i < 0 ? "(empty)" : $"worst at [{i}]: expected {expected[i]:R}, actual {actual[i]:R}";
        if (double.IsNaN(r.Value))
        {
            Assert.Fail($"{what}: non-finite value at [{i}]: expected {expected[i]:R}, actual {actual[i]:R}");
        }

        Assert.That(r.Value, Is.LessThanOrEqualTo(limit), $"{what}: NMSE {r.Value:E3} above {limit:E1}; {detail}");
    }
}
