namespace Hunyuan.Vk.Reference;

/// <summary>
/// Normalised mean squared error, sum((expected - actual)^2) / sum(expected^2), the measure llama.cpp's
/// test-backend-ops uses, with the worst index; any NaN or infinity gives NaN.
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
}
