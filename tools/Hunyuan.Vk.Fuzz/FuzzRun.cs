using System.Diagnostics;
using Hunyuan.Vk.Server;
using Hunyuan.Vk.Model;

namespace Hunyuan.Vk.Fuzz;

/// <summary>What a case found: the target, the seed and case number that remake it, the mutations, and what went wrong.</summary>
public sealed record FuzzFinding(string Target, int Seed, long Case, IReadOnlyList<string> Mutations, string Problem)
{
    public override string ToString() =>
        $"{Target}: {Problem}\n  mutations: {string.Join("; ", Mutations)}\n  again: tools/fuzz --seed {Seed} --case {Case} --cases 1 --target {Target}";
}

/// <summary>Counts of one run.</summary>
public sealed record FuzzSummary(long Cases, long Accepted, long Refused, IReadOnlyList<FuzzFinding> Findings, TimeSpan Elapsed, IReadOnlyDictionary<string, long> PerTarget);

/// <summary>
/// Runs cases: case n of seed s mutates one target's seed with a <see cref="Random"/> of its own (from s and n), so
/// any case is remade alone. An input is refused (an exception <see cref="IsClearError"/> accepts, with a message), accepted (and the
/// target's own check of the result holds), or a finding: any other exception, an accepted input that is not valid,
/// a refusal without a message, or a case over <see cref="CaseLimit"/> (a hang: the run stops there).
/// </summary>
public sealed class FuzzRun(IReadOnlyList<FuzzTarget> targets, TimeSpan? caseLimit = null)
{
    /// <summary>The longest a case may take before it counts as a hang (20 s by default; a case takes milliseconds).</summary>
    public TimeSpan CaseLimit { get; } = caseLimit ?? TimeSpan.FromSeconds(20);

    /// <summary>The exceptions that are the project's clear refusals: a model file's fault, a data file's fault, a
    /// request's fault (the server's 4xx).</summary>
    public static bool IsClearError(Exception e) => e is ModelFormatException or InvalidDataException or ApiError { Status: >= 400 and < 500 };

    /// <summary>Cases <paramref name="first"/>.. of <paramref name="seed"/> until <paramref name="cases"/> are run or
    /// <paramref name="duration"/> has passed; the targets take turns.</summary>
    public FuzzSummary Run(int seed, long first, long cases, TimeSpan duration, string? onlyTarget = null, Action<FuzzFinding>? found = null, Action<long>? progress = null)
    {
        FuzzTarget[] chosen = Chosen(onlyTarget);
        var findings = new List<FuzzFinding>();
        var perTarget = chosen.ToDictionary(t => t.Name, _ => 0L);
        long accepted = 0, refused = 0, done = 0;
        var clock = Stopwatch.StartNew();
        for (long n = first; n < first + cases && clock.Elapsed < duration; n++)
        {
            var steps = new List<string>();
            byte[] input = CaseInput(seed, n, chosen, out FuzzTarget target, steps);
            (bool? ok, string? problem) = RunCase(target, input);
            done++;
            perTarget[target.Name]++;
            if (problem is not null)
            {
                var f = new FuzzFinding(target.Name, seed, n, steps, problem);
                findings.Add(f);
                found?.Invoke(f);
                if (ok is null)
                {
                    break;   // a hang: its thread still runs
                }
            }
            else if (ok == true)
            {
                accepted++;
            }
            else
            {
                refused++;
            }

            progress?.Invoke(done);
        }

        return new FuzzSummary(done, accepted, refused, findings, clock.Elapsed, perTarget);
    }

    /// <summary>The case's input, remade (for --case and --save).</summary>
    public byte[] Input(int seed, long n, string? onlyTarget, out FuzzTarget target, List<string> steps) =>
        CaseInput(seed, n, Chosen(onlyTarget), out target, steps);

    // Case n of a run over these targets: theirs in turn, mutated by a Random of the case's own.
    private static byte[] CaseInput(int seed, long n, FuzzTarget[] chosen, out FuzzTarget target, List<string> steps)
    {
        target = chosen[n % chosen.Length];
        return Mutator.Mutate(target.Seed, new Random(CaseSeed(seed, n)), steps);
    }

    private FuzzTarget[] Chosen(string? onlyTarget)
    {
        FuzzTarget[] chosen = [.. targets.Where(t => onlyTarget is null || t.Name == onlyTarget)];
        return chosen.Length > 0 ? chosen
            : throw new ArgumentException($"no target '{onlyTarget}' (targets: {string.Join(", ", targets.Select(t => t.Name))})", nameof(onlyTarget));
    }

    // The case's own seed: a fixed mix of the run's seed and the case number (HashCode's is new in every process).
    private static int CaseSeed(int seed, long n)
    {
        ulong z = ((ulong)(uint)seed << 40) ^ (ulong)n;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)(z ^ (z >> 31));
    }

    // (true, null) accepted; (false, null) refused clearly; (_, problem) a finding; (null, problem) a hang.
    private (bool?, string?) RunCase(FuzzTarget target, byte[] input)
    {
        (bool, string?) result = default;
        var thread = new Thread(() =>
        {
            try
            {
                string? invalid = target.Run(input);
                result = invalid is null ? (true, null) : (true, $"accepted but invalid: {invalid}");
            }
            catch (Exception e) when (IsClearError(e))
            {
                result = string.IsNullOrWhiteSpace(e.Message) || e.Message.Contains("(Parameter '", StringComparison.Ordinal)
                    ? (false, $"refused with an unclear message: {e.GetType().Name} \"{e.Message}\"")
                    : (false, null);
            }
            catch (Exception e)
            {
                result = (false, $"unhandled {e.GetType().FullName}: {e.Message}\n  at {e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}");
            }
        }, maxStackSize: 16 << 20) { IsBackground = true };
        thread.Start();
        return thread.Join(CaseLimit) ? result : (null, $"no answer within {CaseLimit.TotalSeconds} s (a hang)");
    }
}
