using System.Collections.Concurrent;
using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace Hunyuan.Vk.Benchmarks;

/// <summary>Adds a "GB/s" column: weight bytes read per operation over the mean time.</summary>
public sealed class WeightBandwidthConfig : ManualConfig
{
    /// <summary>"Format/Shape" -> weight bytes, filled by each benchmark's setup (which runs in the benchmark process;
    /// the column recomputes the bytes from the parameters for the summary).</summary>
    public static ConcurrentDictionary<string, long> Bytes { get; } = new();

    public WeightBandwidthConfig() => AddColumn(new GbPerSecondColumn());

    private sealed class GbPerSecondColumn : IColumn
    {
        public string Id => "WeightGBps";
        public string ColumnName => "GB/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Weight bytes read per product / mean time";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            double? meanNs = summary[benchmarkCase]?.ResultStatistics?.Mean;
            object? format = benchmarkCase.Parameters["Format"];
            object? shape = benchmarkCase.Parameters["Shape"];
            if (meanNs is null || format is null || shape is null)
            {
                return "-";
            }

            string[] dims = ((string)shape).Split('x');
            long rows = long.Parse(dims[0], CultureInfo.InvariantCulture), cols = long.Parse(dims[1], CultureInfo.InvariantCulture);
            double bytes = rows * cols * Model.Formats.WeightFormats.BytesPerWeight((Model.Formats.WeightFormat)format);
            return (bytes / meanNs.Value).ToString("F2", CultureInfo.InvariantCulture);
        }

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;
    }
}
