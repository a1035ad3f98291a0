using System.CommandLine;
using System.Globalization;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Model;
using Hunyuan.Vk.Model.Formats;

namespace Hunyuan.Vk.Cli;

/// <summary>Options shared by several commands, and the checks that refuse a bad value when it is parsed (before
/// anything loads), naming the option.</summary>
internal static class CliOptions
{
    /// <summary>Refuses values outside <paramref name="min"/>..<paramref name="max"/>.</summary>
    public static Option<int> Within(this Option<int> option, int min, int max = int.MaxValue)
    {
        option.Validators.Add(r =>
        {
            int v = r.GetValueOrDefault<int>();
            if (v < min || v > max)
            {
                r.AddError(Range(option.Name, min, max, v.ToString(CultureInfo.InvariantCulture)));
            }
        });
        return option;
    }

    /// <summary>Refuses given values outside <paramref name="min"/>..<paramref name="max"/> (none given: the default applies).</summary>
    public static Option<int?> Within(this Option<int?> option, int min, int max = int.MaxValue)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is int v && (v < min || v > max))
            {
                r.AddError(Range(option.Name, min, max, v.ToString(CultureInfo.InvariantCulture)));
            }
        });
        return option;
    }

    /// <summary>Refuses a given value that is not finite or not within <paramref name="min"/>..<paramref name="max"/>
    /// (<paramref name="aboveMin"/>: min itself excluded).</summary>
    public static Option<float?> Within(this Option<float?> option, float min, float max, bool aboveMin = false)
    {
        option.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<float?>() is float v && !(float.IsFinite(v) && (aboveMin ? v > min : v >= min) && v <= max))
            {
                string low = min.ToString(CultureInfo.InvariantCulture), high = float.IsPositiveInfinity(max) ? string.Empty : max.ToString(CultureInfo.InvariantCulture);
                string range = high.Length == 0 ? (aboveMin ? $"a number above {low}" : $"a number of {low} or more") : (aboveMin ? $"above {low} and at most {high}" : $"from {low} to {high}");
                r.AddError($"{option.Name} must be {range}; got {v.ToString(CultureInfo.InvariantCulture)}.");
            }
        });
        return option;
    }

    private static string Range(string name, int min, int max, string got) =>
        max == int.MaxValue ? $"{name} must be {min} or more; got {got}." : $"{name} must be from {min} to {max}; got {got}.";
    public static Option<int?> Device() => new("--device")
    {
        Description = "Vulkan device index from 'hyvk devices' (default: HYVK_DEVICE, else the best: discrete, integrated, CPU)",
    };

    /// <summary>--device auto|cpu|N for the commands that run a model: checked when parsed.</summary>
    public static Option<string> Executor()
    {
        var option = new Option<string>("--device")
        {
            Description = "What runs the model: cpu (the host executor, on this machine's cores), a Vulkan device index from 'hyvk devices', vulkan (the best Vulkan device, a CPU one included), or auto (the default: HYVK_DEVICE, else the best Vulkan device unless it is a CPU device or there is none, then cpu)",
            DefaultValueFactory = _ => "auto",
        };
        option.Validators.Add(r =>
        {
            if (ExecutorChoice.Parse(r.GetValueOrDefault<string>()) is null)
            {
                r.AddError($"--device must be auto, cpu, vulkan or a device index from 'hyvk devices'; got '{r.GetValueOrDefault<string>()}'.");
            }
        });
        return option;
    }

    /// <summary>--threads N for the host executor.</summary>
    public static Option<int> Threads()
    {
        var option = new Option<int>("--threads")
        {
            Description = "Threads of the host executor (--device cpu), 0 for one per processor (the default)",
            DefaultValueFactory = _ => 0,
        };
        option.Validators.Add(r =>
        {
            int v = r.GetValueOrDefault<int>();
            if (v < 0 || v > 1024)
            {
                r.AddError($"--threads must be from 0 to 1024; got {v.ToString(CultureInfo.InvariantCulture)}.");
            }
        });
        return option;
    }

    public static Option<bool> Json() => new("--json")
    {
        Description = "Print JSON for machines instead of text for people",
    };

    /// <summary>--weights: the names of the formats made from float weights (<see cref="WeightFormatSpec.Name"/>).</summary>
    public static Option<string?> Weights()
    {
        string[] names = [.. WeightFormats.All.Where(f => f.FromFloats).Select(f => f.Name)];
        return new Option<string?>("--weights")
        {
            Description = $"Device weight format: {string.Join(", ", names)} (default: q4; GPTQ checkpoints stay int4)",
        }.AcceptOnlyFromAmong(names);
    }

    /// <summary>--device-memory GB: checked when parsed, before anything loads.</summary>
    public static Option<double?> DeviceMemory()
    {
        var o = new Option<double?>("--device-memory")
        {
            Description = "Device memory the model may use, in GB (default: what the device reports, less 5%); routed experts that do not fit go to the host",
        };
        o.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is double gb && !(gb > 0 && double.IsFinite(gb)))
            {
                r.AddError($"--device-memory must be a positive number of GB; got {gb.ToString(CultureInfo.InvariantCulture)}.");
            }
        });
        return o;
    }

    /// <summary>--host-experts N|auto|all: checked when parsed.</summary>
    public static Option<string> HostExperts()
    {
        var o = new Option<string>("--host-experts")
        {
            Description = "Layers whose routed experts live in host memory, computed on the CPU: a number, all, or auto (the default: as many layers on the device as --device-memory holds; all on the host for a CPU device)",
            DefaultValueFactory = _ => "auto",
        };
        o.Validators.Add(r =>
        {
            string value = r.GetValueOrDefault<string>() ?? "auto";
            if (!TryParseHostExperts(value, out _))
            {
                r.AddError($"--host-experts takes a number of layers (0 or more), all or auto; got '{value}'.");
            }
        });
        return o;
    }

    /// <summary>auto: null; all: <see cref="ExpertPlacement.All"/>; else the layers.</summary>
    public static bool TryParseHostExperts(string value, out int? layers)
    {
        layers = null;
        switch (value)
        {
            case "auto":
                return true;
            case "all":
                layers = ExpertPlacement.All;
                return true;
            default:
                bool ok = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int n);
                layers = n;
                return ok;
        }
    }

    /// <summary>--kv f16|q8: the KV cache's format, checked when parsed.</summary>
    public static Option<string> KvCache()
    {
        var o = new Option<string>("--kv")
        {
            Description = "KV-cache format: f16, or q8 (int8 with a scale per 32 values: about half the memory and the bytes attention reads)",
            DefaultValueFactory = _ => "f16",
        };
        o.CompletionSources.Add([.. KvCacheFormats.Names]);
        o.Validators.Add(r =>
        {
            string value = r.GetValueOrDefault<string>() ?? "f16";
            if (KvCacheFormats.Parse(value) is null)
            {
                r.AddError($"--kv takes {string.Join(" or ", KvCacheFormats.Names)}; got '{value}'.");
            }
        });
        return o;
    }

    /// <summary>The placement options as the engine takes them.</summary>
    public static LoadOptions Placement(double? deviceMemoryGb, string hostExperts, string kv)
    {
        _ = TryParseHostExperts(hostExperts, out int? layers);
        return new LoadOptions(deviceMemoryGb is double gb ? (long)(gb * 1e9) : null, layers, KvCacheFormats.Parse(kv) ?? KvCacheFormat.F16);
    }

    /// <summary>The device format for --weights; by default Q4, or Q4Z (as stored) for a GPTQ-Int4 checkpoint.</summary>
    public static WeightFormat WeightFormatFor(string? weights, string modelDirectory) =>
        WeightFormats.Parse(weights) ?? WeightFormats.DefaultFor(HunyuanConfig.Load(modelDirectory));
}
