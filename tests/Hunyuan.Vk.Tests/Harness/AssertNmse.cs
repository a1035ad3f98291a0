using Hunyuan.Vk.Reference;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>
/// Asserts on the normalised mean squared error (<see cref="Nmse"/>, in the Reference project). Failures name the
/// worst index; any NaN or infinity fails.
/// </summary>
public static class AssertNmse
{
    /// <summary>Asserts NMSE &lt;= <paramref name="limit"/>; the message names the worst index and both values there.</summary>
    public static void Close(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double limit, string what)
    {
        Nmse.Result r = Nmse.Compute(expected, actual);
        int i = r.WorstIndex;
        string detail = i < 0 ? "(empty)" : $"worst at [{i}]: expected {expected[i]:R}, actual {actual[i]:R}";
        if (double.IsNaN(r.Value))
        {
            Assert.Fail($"{what}: non-finite value at [{i}]: expected {expected[i]:R}, actual {actual[i]:R}");
        }

        Assert.That(r.Value, Is.LessThanOrEqualTo(limit), $"{what}: NMSE {r.Value:E3} above {limit:E1}; {detail}");
    }
}
