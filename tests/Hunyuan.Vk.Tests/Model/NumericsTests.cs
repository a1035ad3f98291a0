using Hunyuan.Vk.Model;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Model;

public sealed class NumericsTests
{
    [TestCase(0x00, 0f)]
    [TestCase(0x01, 0.001953125f)]     // smallest subnormal, 2^-9
    [TestCase(0x08, 0.015625f)]        // smallest normal, 2^-6
    [TestCase(0x38, 1f)]
    [TestCase(0x7E, 448f)]             // largest finite
    [TestCase(0xBC, -1.5f)]
    public void E4M3_codes_have_their_values(int code, float value) =>
        Assert.That(Numerics.E4M3ToFloat((byte)code), Is.EqualTo(value));

    [TestCase(0)]
    [TestCase(7)]
    [TestCase(8)]
    [TestCase(1000)]
    [TestCase(1036)]   // in the scalar tail
    public void The_first_non_finite_value_is_found_exactly(int at)
    {
        float[] values = TestData.Uniform(at, 1037, 1e30f);
        Assert.That(Numerics.IndexOfNonFinite(values), Is.EqualTo(-1), "large finite values are finite");
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            float[] v = (float[])values.Clone();
            v[at] = bad;
            v[^1] = float.NaN;   // a later one must not win
            Assert.That(Numerics.IndexOfNonFinite(v), Is.EqualTo(at), $"{bad} at {at}");
        }
    }

    [Test]
    public void E4M3_nan_and_round_trip_of_every_finite_code()
    {
        Assert.That(float.IsNaN(Numerics.E4M3ToFloat(0x7F)) && float.IsNaN(Numerics.E4M3ToFloat(0xFF)), Is.True);
        for (int code = 0; code < 256; code++)
        {
            float v = Numerics.E4M3ToFloat((byte)code);
            if (!float.IsNaN(v) && code != 0x80)
            {
                Assert.That(Numerics.FloatToE4M3(v), Is.EqualTo((byte)code), $"code 0x{code:X2} ({v})");
            }
        }

        Assert.That(Numerics.FloatToE4M3(1000f), Is.EqualTo(0x7E), "saturates");
        Assert.That(Numerics.FloatToE4M3(1.0625f), Is.EqualTo(0x38), "halfway 1 and 1.125: to even");
        Assert.That(Numerics.FloatToE4M3(1.1875f), Is.EqualTo(0x3A), "halfway 1.125 and 1.25: to even");
    }

    [Test]
    public void Bf16_rounds_to_nearest_even()
    {
        Assert.That(Numerics.Bf16ToFloat(Numerics.FloatToBf16(1f)), Is.EqualTo(1f));
        Assert.That(Numerics.FloatToBf16(BitConverter.Int32BitsToSingle(0x3F808000)), Is.EqualTo((ushort)0x3F80), "tie to even (down)");
        Assert.That(Numerics.FloatToBf16(BitConverter.Int32BitsToSingle(0x3F818000)), Is.EqualTo((ushort)0x3F82), "tie to even (up)");
        Assert.That(Numerics.FloatToBf16(BitConverter.Int32BitsToSingle(0x3F808001)), Is.EqualTo((ushort)0x3F81), "above the tie");
        Assert.That(float.IsNaN(Numerics.Bf16ToFloat(Numerics.FloatToBf16(float.NaN))), Is.True);
    }
}
