using System.Runtime.InteropServices;

namespace Hunyuan.Vk.Cli;

/// <summary>
/// A file the user named for output: checked before the work that fills it starts, then written so that nothing is
/// left half-written and nothing is replaced that should not be. A regular file (or a new one) is written under a
/// temporary name beside it and renamed over it when complete; a symbolic link is followed, so its final target gets
/// that treatment and the link stays a link; a device, FIFO or socket is written in place (renaming a file over one
/// would replace the node itself, as it did with <c>/dev/full</c>).
/// </summary>
internal static class OutputFile
{
    /// <summary>Throws, naming <paramref name="what"/> (the option) and the path, where <paramref name="path"/> cannot
    /// be written: empty, a directory, or in a directory that does not exist.</summary>
    public static void Check(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new ArgumentException($"{what}: no file named");
        }

        string target = Target(path);
        if (Directory.Exists(target))
        {
            throw new ArgumentException($"{what} {path}: is a directory; name a file");
        }

        string? directory = Path.GetDirectoryName(Path.GetFullPath(target));
        if (directory is null || !Directory.Exists(directory))
        {
            throw new ArgumentException($"{what} {path}: the directory '{directory}' does not exist");
        }
    }

    /// <summary>Writes <paramref name="path"/> with <paramref name="write"/>, as the type describes.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        string target = Target(path);
        if (File.Exists(target) && !IsRegularFile(target))
        {
            using var special = new FileStream(target, FileMode.Open, FileAccess.Write);
            write(special);
            special.Flush();
            return;
        }

        string temporary = $"{target}.partial-{Environment.ProcessId}";
        try
        {
            using (var s = new FileStream(temporary, FileMode.Create, FileAccess.Write))
            {
                write(s);
            }

            File.Move(temporary, target, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    /// <summary>The path a write lands on: the final target of a symbolic link (which may not exist yet), else the path.</summary>
    private static string Target(string path)
    {
        var info = new FileInfo(path);
        if (info.LinkTarget is null)
        {
            return path;
        }

        FileSystemInfo? final = info.ResolveLinkTarget(returnFinalTarget: true);
        return final?.FullName ?? path;
    }

    /// <summary>Whether an existing <paramref name="path"/> (not a link) is a regular file, from statx's file type (its
    /// layout is the same on every Linux architecture). Off Linux, every existing file counts as regular.</summary>
    internal static bool IsRegularFile(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return true;
        }

        Span<byte> buffer = stackalloc byte[256];   // struct statx
        const int AtFdCwd = -100, AtSymlinkNoFollow = 0x100;
        const uint StatxType = 1;
        byte[] name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        if (Statx(AtFdCwd, name, AtSymlinkNoFollow, StatxType, ref MemoryMarshal.GetReference(buffer)) != 0)
        {
            return true;   // cannot tell: the rename path, as before
        }

        ushort mode = BitConverter.ToUInt16(buffer[28..30]);   // stx_mode
        return (mode & 0xF000) == 0x8000;                      // S_IFREG
    }

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int dirfd, byte[] path, int flags, uint mask, ref byte buffer);   // path: NUL-terminated UTF-8
}
