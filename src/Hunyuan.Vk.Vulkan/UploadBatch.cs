namespace Hunyuan.Vk.Vulkan;

/// <summary>A scope of <see cref="GpuContext.BatchUploads"/>: disposing it sends what it gathered.</summary>
public sealed class UploadBatch : IDisposable
{
    private StagedUploads? _uploads;

    internal UploadBatch(StagedUploads uploads) => _uploads = uploads;

    public void Dispose()
    {
        _uploads?.EndBatch();
        _uploads = null;
    }
}
