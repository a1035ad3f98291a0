using System.Globalization;
using System.Text;

namespace Hunyuan.Vk.Fuzz;

/// <summary>
/// Seeded mutations of a valid input: byte and bit flips, truncation, insertion, deletion, chunk duplication and
/// numeric edits (a number in the text replaced by an edge value). One to four per case; each names itself, so a
/// finding says what was done to the seed.
/// </summary>
public static class Mutator
{
    // Values that loaders get wrong: zero, signs, the edges of int32/int64/float, non-numbers, exponent overflow.
    private static readonly string[] s_numbers =
    [
        "0", "-1", "1", "2", "-0", "0.0", "1e-45", "1e309", "-1e309", "NaN", "Infinity", "2147483647", "2147483648",
        "-2147483649", "4294967296", "9223372036854775807", "9223372036854775808", "18446744073709551616", "1.5", "1e5",
        "65536", "262145", "3.4e38", "\"7\"", "null", "true", "[]", "{}",
    ];

    // Tokens that change a JSON document's structure rather than a value.
    private static readonly string[] s_tokens = ["\"", ",", ":", "{", "}", "[", "]", "\\", "\\u0000", "\\ud800", "\xff", "\xc3", "\0", "\n", " 1 2 "];

    /// <summary>A mutated copy of <paramref name="seed"/>; <paramref name="steps"/> lists what was done, in order.</summary>
    public static byte[] Mutate(byte[] seed, Random rng, List<string> steps)
    {
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentNullException.ThrowIfNull(rng);
        ArgumentNullException.ThrowIfNull(steps);
        var data = new List<byte>(seed);
        int count = 1 + rng.Next(4);
        for (int i = 0; i < count; i++)
        {
            steps.Add(MutateOnce(data, rng));
        }

        return [.. data];
    }

    private static string MutateOnce(List<byte> data, Random rng)
    {
        int at = data.Count == 0 ? 0 : rng.Next(data.Count);
        switch (rng.Next(data.Count == 0 ? 1 : 8))
        {
            case 0:
            {
                byte[] insert = rng.Next(2) == 0 ? RandomBytes(rng, 1 + rng.Next(8)) : Encoding.UTF8.GetBytes(s_tokens[rng.Next(s_tokens.Length)]);
                data.InsertRange(at, insert);
                return $"insert {Convert.ToHexString(insert)} at {at}";
            }

            case 1:
            {
                byte value = (byte)rng.Next(256);
                data[at] = value;
                return $"byte {at} = 0x{value:X2}";
            }

            case 2:
            {
                int bit = rng.Next(8);
                data[at] ^= (byte)(1 << bit);
                return $"flip bit {bit} of byte {at}";
            }

            case 3:
                data.RemoveRange(at, data.Count - at);
                return $"truncate to {at}";

            case 4:
            {
                int length = Math.Min(data.Count - at, 1 + rng.Next(16));
                data.RemoveRange(at, length);
                return $"delete {length} at {at}";
            }

            case 5:
            {
                int length = Math.Min(data.Count - at, 1 + rng.Next(64));
                byte[] chunk = [.. data.GetRange(at, length)];
                int to = rng.Next(data.Count + 1);
                data.InsertRange(to, chunk);
                return $"duplicate {length} from {at} to {to}";
            }

            default:
                return EditNumber(data, rng) ?? $"byte {at} = 0x{data[at] ^= 0x20:X2} (no number to edit)";
        }
    }

    // Replaces one ASCII number (an optional sign, digits, a fraction, an exponent) by an edge value.
    private static string? EditNumber(List<byte> data, Random rng)
    {
        var starts = new List<int>();
        for (int i = 0; i < data.Count; i++)
        {
            if (IsDigit(data[i]) && (i == 0 || !IsNumberByte(data[i - 1])))
            {
                starts.Add(i > 0 && data[i - 1] == '-' ? i - 1 : i);
            }
        }

        if (starts.Count == 0)
        {
            return null;
        }

        int start = starts[rng.Next(starts.Count)], end = start + 1;
        while (end < data.Count && IsNumberByte(data[end]))
        {
            end++;
        }

        string old = Encoding.ASCII.GetString([.. data.GetRange(start, end - start)]);
        string value = rng.Next(3) == 0
            ? ((long.TryParse(old.Split('.', 'e', 'E')[0], CultureInfo.InvariantCulture, out long whole) && Math.Abs(whole) < 1L << 60 ? whole : 0) + rng.Next(-2, 3)).ToString(CultureInfo.InvariantCulture)
            : s_numbers[rng.Next(s_numbers.Length)];
        data.RemoveRange(start, end - start);
        data.InsertRange(start, Encoding.UTF8.GetBytes(value));
        return $"number {old} at {start} -> {value}";
    }

    private static bool IsDigit(byte b) => b is >= (byte)'0' and <= (byte)'9';

    private static bool IsNumberByte(byte b) => IsDigit(b) || b is (byte)'.' or (byte)'e' or (byte)'E' or (byte)'+' or (byte)'-';

    private static byte[] RandomBytes(Random rng, int length)
    {
        var bytes = new byte[length];
        rng.NextBytes(bytes);
        return bytes;
    }
}
