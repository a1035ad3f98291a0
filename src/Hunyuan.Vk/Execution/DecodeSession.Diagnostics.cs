using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Execution;

/// <summary>Hooks for parity checks, profiles and benchmarks: nothing a generation needs.</summary>
public sealed partial class DecodeSession
{
    /// <summary>
    /// For parity checks: when set, each prefill chunk also copies its hidden states into <paramref name="buffer"/>,
    /// laid out [layers + 1][chunk tokens][hidden] f32: entering the first layer, then leaving each layer (null: stop).
    /// </summary>
    public void CaptureHiddenStates(GpuBuffer? buffer)
    {
        ulong needed = (ulong)(_config.Layers + 1) * (ulong)PrefillChunk * (ulong)_config.HiddenSize * 4;
        if (buffer is not null && buffer.Size < needed)
        {
            throw new ArgumentException($"Capturing hidden states needs {needed} bytes; '{buffer.Name}' has {buffer.Size}");
        }

        _capture = buffer;
    }

    /// <summary>Times every dispatch of the following decode steps on the GPU (null: stop).</summary>
    public void SetProfile(DispatchProfile? profile)
    {
        _steps[0].Profile = _steps[1].Profile = profile;
        _preparedFor = -1;
    }

    /// <summary>For benchmarks at depth: empties the cache, then counts its first <paramref name="depth"/> positions as
    /// filled, with one constant K and V everywhere (the values do not change attention's speed; computing them would
    /// take a prefill of that length). They match no prompt (<see cref="SharedPrefix"/>) and read as token 0 in the
    /// history the repetition penalty sees.</summary>
    public void FillForBenchmark(int depth)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(depth);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(depth, MaxPositions - 1);
        Rewind(0);
        if (depth == 0)
        {
            return;
        }

        _prefill.Begin();
        _cache.RecordFill(_prefill, 0x3C003C00);   // 1.0 in f16; small finite values in int8 rows and scales
        _prefill.Fill(_head.History, 0, _head.History.Size, 0);
        _prefill.End();
        _prefill.SubmitAndWait();
        _cache.Forget(0, depth);
        Position = depth;
    }

    /// <summary>For parity checks: the prefill chunk's hidden states at <paramref name="index"/> (0: entering the first
    /// layer, l + 1: leaving layer l).</summary>
    private void Capture(CommandRecorder r, LayerActivations a, int index, uint n)
    {
        if (_capture is GpuBuffer capture && a == _chunk)
        {
            ulong bytes = n * (ulong)_config.HiddenSize * 4;
            r.Copy(a.H, 0, capture, (ulong)index * bytes, bytes);
        }
    }
}
