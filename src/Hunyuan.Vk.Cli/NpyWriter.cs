using System.Globalization;
using System.Text;

namespace Hunyuan.Vk.Cli;

/// <summary>
/// Writes a float32 little-endian NumPy .npy file of shape [rows, cols] (format version 1.0), as <see cref="OutputFile"/>
/// writes: a regular file under a temporary name renamed when complete, a device or FIFO in place.
/// </summary>
internal static class NpyWriter
{
    public static void Write(string path, IReadOnlyList<float[]> rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(rows);
        string header = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows.Count}, {cols}), }}");
        int padded = (10 + header.Length + 1 + 63) / 64 * 64 - 10;   // magic(6) + version(2) + length(2) + header, to 64 bytes
        header = header.PadRight(padded - 1) + "\n";
        OutputFile.Write(path, s =>
        {
            using var w = new BinaryWriter(s, Encoding.ASCII, leaveOpen: true);
            w.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0]);
            w.Write((ushort)header.Length);
            w.Write(Encoding.ASCII.GetBytes(header));
            foreach (float[] row in rows)
            {
                if (row.Length != cols)
                {
                    throw new ArgumentException($"A row of {row.Length} values in a [{rows.Count}, {cols}] array");
                }

                foreach (float v in row)
                {
                    w.Write(v);   // BinaryWriter writes little-endian
                }
            }
        });
    }
}
