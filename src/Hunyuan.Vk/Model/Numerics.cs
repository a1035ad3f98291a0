namespace Hunyuan.Vk.Model;

/// <summary>Bit-exact conversions between the checkpoint number formats and float.</summary>
public static class Numerics
{
    private static readonly float[] s_e4m3 = BuildE4M3();
    private static readonly float[] s_e4m3Positive = s_e4m3[..127];   // codes 0x00..0x7E, ascending

    public static float Bf16ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>The index of the first NaN or infinity in <paramref name="values"/>, or -1: a float is not finite when
    /// its exponent bits are all ones, tested a vector at a time.</summary>
    public static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        ReadOnlySpan<uint> bits = System.Runtime.InteropServices.MemoryMarshal.Cast<float, uint>(values);
        var exponent = new System.Numerics.Vector<uint>(0x7F80_0000u);
        int i = 0;
        for (int width = System.Numerics.Vector<uint>.Count; i + width <= bits.Length; i += width)
        {
            var v = new System.Numerics.Vector<uint>(bits[i..]);
            if (System.Numerics.Vector.EqualsAny(v & exponent, exponent))
            {
                break;   // the exact index from the scalar loop below
            }
        }

        for (; i < bits.Length; i++)
        {
            if ((bits[i] & 0x7F80_0000u) == 0x7F80_0000u)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Rounds to the nearest bfloat16, ties to even (NaN stays NaN).</summary>
    public static ushort FloatToBf16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x40);
        }

        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>The value of an FP8 E4M3 (fn: no infinities, NaN at S.1111.111) code.</summary>
    public static float E4M3ToFloat(byte code) => s_e4m3[code];

    /// <summary>The nearest E4M3 code, ties to an even mantissa; beyond +-448 saturates to +-448.</summary>
    public static byte FloatToE4M3(float value)
    {
        if (float.IsNaN(value))
        {
            return 0x7F;
        }

        float a = Math.Abs(value);
        byte sign = value < 0 || (value == 0 && float.IsNegative(value)) ? (byte)0x80 : (byte)0;
        int i = Array.BinarySearch(s_e4m3Positive, a);
        int code;
        if (i >= 0)
        {
            code = i;
        }
        else
        {
            int hi = ~i;
            if (hi >= s_e4m3Positive.Length)
            {
                code = s_e4m3Positive.Length - 1;
            }
            else
            {
                int lo = hi - 1;
                float dLo = a - s_e4m3Positive[lo], dHi = s_e4m3Positive[hi] - a;
                code = dLo < dHi ? lo : dHi < dLo ? hi : ((lo & 1) == 0 ? lo : hi);
            }
        }

        return (byte)(sign | code);
    }

    private static float[] BuildE4M3()
    {
        var table = new float[256];
        for (int code = 0; code < 256; code++)
        {
            int e = (code >> 3) & 0xF, m = code & 7;
            float magnitude = e == 15 && m == 7 ? float.NaN
                : e == 0 ? m / 8f * MathF.Pow(2, -6)
                : (1 + m / 8f) * MathF.Pow(2, e - 7);
            table[code] = (code & 0x80) != 0 ? -magnitude : magnitude;
        }

        return table;
    }
}
