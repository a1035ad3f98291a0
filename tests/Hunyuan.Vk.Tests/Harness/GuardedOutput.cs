using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Tests.Harness;

/// <summary>
/// An output buffer for kernel tests: the output region is poisoned with NaN before each dispatch (so an element the
/// kernel forgets to write fails the NMSE check) and followed by a guard region of a known pattern that must be
/// untouched afterwards (so a write past the end fails). The guard is bound together with the output: drivers that
/// bounds-check every access (lavapipe does) would otherwise drop a stray write silently instead of exposing it.
/// </summary>
public sealed class GuardedOutput : IDisposable
{
    private const int GuardFloats = 256;
    /// <summary>What the output holds before the kernel runs: a quiet NaN.</summary>
    public const uint PoisonBits = 0x7FC0DEAD;
    private const uint GuardBits = 0xDEADBEEF;
    private readonly GpuBuffer _buffer;

    public GuardedOutput(GpuContext context, int count, string name)
    {
        ArgumentNullException.ThrowIfNull(context);
        Count = count;
        _buffer = context.CreateBuffer((ulong)(count + GuardFloats) * 4, name);
        Poison();
    }

    public int Count { get; }

    /// <summary>The output and its guard, for binding; the kernel is told the output's size by its arguments.</summary>
    public BufferRange Range => _buffer.All;

    /// <summary>Refills the output with NaN and the guard with its pattern.</summary>
    public void Poison()
    {
        var bits = new uint[Count + GuardFloats];
        Array.Fill(bits, PoisonBits, 0, Count);
        Array.Fill(bits, GuardBits, Count, GuardFloats);
        _buffer.Write<uint>(bits);
    }

    /// <summary>Reads the output after checking the guard region is intact.</summary>
    public float[] Read()
    {
        var guard = new uint[GuardFloats];
        _buffer.Read<uint>(guard, (ulong)Count * 4);
        int bad = Array.FindIndex(guard, g => g != GuardBits);
        Assert.That(bad, Is.EqualTo(-1), () => $"{_buffer.Name}: the kernel wrote past its output, at element {Count + bad} (guard 0x{guard[bad]:X8})");
        var data = new float[Count];
        _buffer.Read<float>(data);
        return data;
    }

    public void Dispose() => _buffer.Dispose();
}
