namespace Hunyuan.Vk.HostCompute;

/// <summary>
/// Persistent threads that run one phase of work together: <see cref="Run"/> calls the body on every thread (the
/// caller is thread 0) and returns when all are done. No allocation and no <see cref="Task"/> per call: the threads wait
/// on one <see cref="Barrier"/>, which spins briefly, then blocks. Not reentrant; one caller at a time.
/// </summary>
internal sealed class WorkerPool : IDisposable
{
    private readonly Barrier _barrier;
    private readonly Thread[] _threads;
    private Action<int>? _body;
    private volatile bool _stopping;
    private Exception? _failure;

    /// <param name="threads">Threads in all, the caller's included (default: the machine's processors).</param>
    public WorkerPool(int threads = 0)
    {
        Threads = threads > 0 ? threads : Environment.ProcessorCount;
        _barrier = new Barrier(Threads);
        _threads = new Thread[Threads - 1];
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
        _barrier.SignalAndWait();   // start
        Invoke(0);
        _barrier.SignalAndWait();   // all done
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
        while (true)
        {
            _barrier.SignalAndWait();
            if (_stopping)
            {
                return;
            }

            Invoke(index);
            _barrier.SignalAndWait();
        }
    }

    private void Invoke(int index)
    {
        try
        {
            _body!(index);
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
        if (_threads.Length > 0)
        {
            _barrier.SignalAndWait();   // release the workers, which see the flag and leave
            foreach (Thread t in _threads)
            {
                t.Join();
            }
        }

        _barrier.Dispose();
    }
}
