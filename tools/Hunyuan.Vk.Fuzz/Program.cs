using System.Globalization;
using Hunyuan.Vk.Fuzz;

// tools/fuzz: the loaders' fuzzer. Seeded mutations of valid inputs, run in-process; see FuzzRun and Targets.
const string Help = """
    hyvk-fuzz: mutates valid model files, tokenizer input, chat messages and request bodies, and runs them through the
    loaders as the engine does. A finding is an exception other than a clear refusal, an accepted input that is not
    valid, or a hang; each prints the seed and case that remake it. Exit 0 when nothing was found, 1 when something was.

      --seed N       the run's seed (default 1)
      --cases N      cases to run (default: unbounded; stop at --minutes)
      --minutes M    stop after M minutes (default 1)
      --case N       the first case (default 0); with --cases 1, one case again
      --target NAME  only this target (safetensors, index, config, generation_config, tiktoken, tokenizer-text,
                     chat-messages, chat-request, completion-request)
      --save DIR     write each finding's input to DIR/TARGET-SEED-CASE.bin
      --scratch DIR  where cases are written (default: a folder under the temp directory, removed at the end)
    """;

int seed = 1;
long cases = long.MaxValue, first = 0;
double minutes = 1;
string? target = null, save = null, scratch = null;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--seed": seed = int.Parse(Value(), CultureInfo.InvariantCulture); break;
            case "--cases": cases = long.Parse(Value(), CultureInfo.InvariantCulture); break;
            case "--minutes": minutes = double.Parse(Value(), CultureInfo.InvariantCulture); break;
            case "--case": first = long.Parse(Value(), CultureInfo.InvariantCulture); break;
            case "--target": target = Value(); break;
            case "--save": save = Value(); break;
            case "--scratch": scratch = Value(); break;
            case "-h" or "--help": Console.WriteLine(Help); return 0;
            default: throw new ArgumentException($"unknown option '{args[i]}' (see --help)");
        }
    }

    if (cases < 1 || first < 0 || !(minutes > 0))
    {
        throw new ArgumentException("--cases must be at least 1, --case at least 0, --minutes above 0");
    }
}
catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
{
    Console.Error.WriteLine($"hyvk-fuzz: {e.Message}");
    return 2;
}

bool own = scratch is null;
scratch ??= Path.Combine(Path.GetTempPath(), $"hyvk-fuzz-{Environment.ProcessId}");
try
{
    var run = new FuzzRun(Targets.Create(scratch));
    Console.WriteLine($"hyvk-fuzz: seed {seed}, from case {first}, {(cases == long.MaxValue ? "no case limit" : $"{cases} cases")}, {minutes} min");
    var next = DateTime.UtcNow.AddSeconds(30);
    FuzzSummary s = run.Run(seed, first, cases, TimeSpan.FromMinutes(minutes), target,
        found: f =>
        {
            Console.WriteLine($"FINDING {f}");
            if (save is not null)
            {
                Directory.CreateDirectory(save);
                File.WriteAllBytes(Path.Combine(save, $"{f.Target}-{f.Seed}-{f.Case}.bin"), run.Input(f.Seed, f.Case, target, out _, []));
            }
        },
        progress: n =>
        {
            if (DateTime.UtcNow > next)
            {
                Console.WriteLine($"  {n} cases");
                next = DateTime.UtcNow.AddSeconds(30);
            }
        });
    Console.WriteLine($"hyvk-fuzz: {s.Cases} cases in {s.Elapsed.TotalSeconds:F0} s ({string.Join(", ", s.PerTarget.Select(p => $"{p.Key} {p.Value}"))}): " +
        $"{s.Accepted} accepted, {s.Refused} refused, {s.Findings.Count} findings");
    return s.Findings.Count == 0 ? 0 : 1;
}
finally
{
    if (own && Directory.Exists(scratch))
    {
        Directory.Delete(scratch, recursive: true);
    }
}
