using BenchmarkDotNet.Running;

namespace Hunyuan.Vk.Benchmarks;

/// <summary>
/// BenchmarkDotNet entry: <c>dotnet run -c Release --project tools/Hunyuan.Vk.Benchmarks -- --filter '*'</c>.
/// Set DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 on lavapipe (see docs) so idle pool threads do not steal a core.
/// </summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
