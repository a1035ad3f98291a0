using Hunyuan.Vk.Kernels;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Kernels;

/// <summary>One byte accounting: what a matrix occupies on the device is what the format descriptor says, which is
/// what the benchmark's minimum and the memory estimate count.</summary>
public sealed class DeviceMatrixTests : VulkanTest
{
    [TestCaseSource(typeof(WeightFormats), nameof(WeightFormats.All))]
    public void Device_bytes_are_what_the_format_accounts(WeightFormatSpec spec)
    {
        const int Rows = 6, Cols = 384, Count = 3;
        QuantizedMatrix host = QuantizedMatrix.Random(spec.Format, Rows, Cols, new Random(3));
        using DeviceMatrix w = DeviceMatrix.Upload(Context, spec.Name, Count, _ => host);

        Assert.That(w.BytesPerMatrix, Is.EqualTo((ulong)host.DeviceBytes), "the descriptor vs the host arrays uploaded");
        Assert.That(w.ViewBytes, Is.EqualTo(Count * w.BytesPerMatrix), "the views cover exactly the stacked matrices");
        Assert.That(w.DeviceBytes, Is.InRange(w.ViewBytes, w.ViewBytes + 256UL * (ulong)spec.Tables().Count), "plus alignment only");
        Assert.That(Rows * Cols * spec.BytesPerWeight, Is.EqualTo((double)w.BytesPerMatrix).Within(1e-9), "per weight, as ActiveWeights and MemoryEstimate count");
        Assert.That(w.Tables.Length, Is.EqualTo(spec.Tables().Count));
    }

    [Test]
    public void Q4z_counts_its_zero_point_byte()
    {
        // 16 bytes of nibbles per 32 values, an f16 scale and a one-byte zero point per 128.
        Assert.That(WeightFormat.Q4Z.BytesPerWeight(), Is.EqualTo(0.5 + 3.0 / 128));
    }
}
