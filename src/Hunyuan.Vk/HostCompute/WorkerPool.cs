namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// Persistent threads that run one phase of work together: <see cref="Run"/> calls the body on every thread (the
/// caller is thread 0) and returns when all are done. No allocation and no <see cref="Task"/> per call: a phase counter
/// is the truth, watched for a few spins (yielding, so a device's threads on the same cores still run), then waited
/// on with one preallocated event per thread (a <see cref="Barrier"/> allocated its events' locks on the first wait
/// that blocked, so a step could allocate late). Not reentrant; one caller at a time.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private const int Spins = 40;
    private readonly Thread[] _threads;
    private readonly AutoResetEvent[] _wake;
    private readonly AutoResetEvent _done = new(false);
    private readonly long[] _allocated;   // per thread: its managed bytes allocated, as of its last phase
    private Action<int>? _body;
    private volatile bool _stopping;
    private int _phase;
    private int _remaining;
    private Exception? _failure;

    /// <param name="threads">Threads in all, the caller's included (default: the machine's processors).</param>
    public WorkerPool(int threads = 0)
    {
        Threads = threads > 0 ? threads : Environment.ProcessorCount;
        _threads = new Thread[Threads - 1];
        _allocated = new long[Threads];
        _wake = [.. Enumerable.Range(0, _threads.Length).Select(_ => new AutoResetEvent(false))];
        for (int i = 0; i < _threads.Length; i++)
        {
            int index = i + 1;
            _threads[i] = new Thread(() => Work(index)) { IsBackground = true, Name = $"hyvk host experts {index}" };
            _threads[i].Start();
        }
    }

    public int Threads { get; }

    /// <summary>Runs <paramref name="body"/>(thread) on every thread, 0 .. <see cref="Threads"/> - 1, and waits for all.
    /// An exception on any thread is rethrown here after all have finished.</summary>
    public void Run(Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        ObjectDisposedException.ThrowIf(_stopping, this);
        _body = body;
        _failure = null;
        Volatile.Write(ref _remaining, _threads.Length);
        Interlocked.Increment(ref _phase);   // start
        foreach (AutoResetEvent wake in _wake)
        {
            wake.Set();
        }

        Invoke(0);
        var spin = default(SpinWait);
        while (Volatile.Read(ref _remaining) > 0)   // all done
        {
            if (spin.Count < Spins)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }
            else
            {
                _done.WaitOne();
            }
        }

        _body = null;
        if (_failure is Exception e)
        {
            throw new AggregateException("a host expert thread failed", e);
        }
    }

    /// <summary>The part [start, end) of <paramref name="count"/> items thread <paramref name="thread"/> takes, cut at
    /// multiples of <paramref name="align"/> (16 floats: one 64-byte cache line, so no two threads write one line).</summary>
    public (int Start, int End) Share(int thread, int count, int align = 16)
    {
        int units = (count + align - 1) / align;
        int start = (int)((long)units * thread / Threads) * align, end = (int)((long)units * (thread + 1) / Threads) * align;
        return (Math.Min(start, count), Math.Min(end, count));
    }

    private void Work(int index)
    {
        int seen = 0;
        while (true)
        {
            var spin = default(SpinWait);
            while (Volatile.Read(ref _phase) == seen && !_stopping)
            {
                if (spin.Count < Spins)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }
                else
                {
                    _wake[index - 1].WaitOne();   // a set left from a phase already seen only costs one more look
                }
            }

            if (_stopping)
            {
                return;
            }

            seen = Volatile.Read(ref _phase);
            Invoke(index);
            if (Interlocked.Decrement(ref _remaining) == 0)
            {
                _done.Set();
            }
        }
    }

    /// <summary>Managed bytes the pool's threads (the callers' included, as of the phases they ran) have allocated: tests
    /// hold a step to none, whatever else the process runs.</summary>
    internal long AllocatedBytes => _allocated.Sum();

    private void Invoke(int index)
    {
        try
        {
            _body!(index);
            _allocated[index] = GC.GetAllocatedBytesForCurrentThread();
        }
#pragma warning disable CA1031 // a worker's failure is carried to the caller, not lost on its thread
        catch (Exception e)
#pragma warning restore CA1031
        {
            Interlocked.CompareExchange(ref _failure, e, null);
        }
    }

    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        foreach (AutoResetEvent wake in _wake)
        {
            wake.Set();
        }

        foreach (Thread t in _threads)
        {
            t.Join();
        }

        foreach (AutoResetEvent wake in _wake)
        {
            wake.Dispose();
        }

        _done.Dispose();
    }
}
