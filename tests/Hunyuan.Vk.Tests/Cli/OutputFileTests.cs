using System.Diagnostics;
using Hunyuan.Vk.Cli;

namespace Hunyuan.Vk.Tests.Cli;

/// <summary>#16 point 1: an output file never replaces what it should not (a device node, a FIFO, a symbolic link) and
/// a bad path is found before the work starts.</summary>
public sealed class OutputFileTests
{
    private string _dir = string.Empty;

    [SetUp]
    public void MakeDirectory() => _dir = Directory.CreateTempSubdirectory("hyvk-out-").FullName;

    [TearDown]
    public void RemoveDirectory() => Directory.Delete(_dir, recursive: true);

    private static void Bytes(Stream s, byte[] data) => s.Write(data);

    [Test]
    public void A_new_or_regular_file_is_written_whole_under_a_temporary_name()
    {
        string path = Path.Combine(_dir, "a.bin");
        OutputFile.Write(path, s => Bytes(s, [1, 2, 3]));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 1, 2, 3 }));
        OutputFile.Write(path, s => Bytes(s, [4]));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 4 }), "replaced");
        Assert.That(() => OutputFile.Write(path, s => { Bytes(s, [9, 9]); throw new IOException("disk full"); }), Throws.InstanceOf<IOException>());
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(new byte[] { 4 }), "a failed write leaves the old file");
        Assert.That(Directory.GetFiles(_dir), Is.EqualTo(new[] { path }), "no temporary file left");
    }

    [Test]
    public void A_symbolic_link_stays_a_link_and_its_target_is_written()
    {
        string target = Path.Combine(_dir, "target.bin"), link = Path.Combine(_dir, "link.bin");
        File.WriteAllBytes(target, [7]);
        File.CreateSymbolicLink(link, target);
        OutputFile.Write(link, s => Bytes(s, [5, 6]));
        Assert.That(new FileInfo(link).LinkTarget, Is.EqualTo(target), "still a link");
        Assert.That(File.ReadAllBytes(target), Is.EqualTo(new byte[] { 5, 6 }));
    }

    [Test]
    public void A_fifo_is_written_in_place_not_replaced()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Ignore("mkfifo: Linux");
        }

        string fifo = Path.Combine(_dir, "pipe");
        using (Process mk = Process.Start("mkfifo", fifo))
        {
            mk.WaitForExit();
            Assert.That(mk.ExitCode, Is.Zero);
        }

        Assert.That(OutputFile.IsRegularFile(fifo), Is.False, "statx sees a FIFO");
        Task<byte[]> reader = Task.Run(() =>
        {
            using var s = new FileStream(fifo, FileMode.Open, FileAccess.Read);
            using var m = new MemoryStream();
            s.CopyTo(m);
            return m.ToArray();
        });
        OutputFile.Write(fifo, s => Bytes(s, [1, 2, 3, 4]));
        Assert.That(reader.Wait(TimeSpan.FromSeconds(20)), Is.True, "the reader got to the end");
        Assert.That(reader.Result, Is.EqualTo(new byte[] { 1, 2, 3, 4 }));
        Assert.That(OutputFile.IsRegularFile(fifo), Is.False, "still a FIFO, not a file renamed over it");
        Assert.That(OutputFile.IsRegularFile("/dev/null"), Is.False, "a character device");
        Assert.That(OutputFile.IsRegularFile(typeof(OutputFileTests).Assembly.Location), Is.True);
    }

    [Test]
    public void A_path_that_cannot_be_written_is_refused_naming_it()
    {
        Assert.That(() => OutputFile.Check(Path.Combine(_dir, "missing", "x.npy"), "--dump-logits"),
            Throws.ArgumentException.With.Message.Contains("--dump-logits").And.Message.Contains("does not exist"));
        Assert.That(() => OutputFile.Check(_dir, "--dump-logits"), Throws.ArgumentException.With.Message.Contains("is a directory"));
        Assert.That(() => OutputFile.Check(" ", "--dump-logits"), Throws.ArgumentException.With.Message.Contains("no file named"));
        Assert.DoesNotThrow(() => OutputFile.Check(Path.Combine(_dir, "new.npy"), "--dump-logits"));
    }
}
