namespace Hunyuan.Vk.Execution;

/// <summary>What one command buffer of a session took: dispatches and barriers recorded, weight bytes read, host time
/// spent recording it (whenever that was), submitting it and waiting for the device, the host time on the token's
/// critical path (from the call to the submit: the recording drops out of it when it was done while the device ran
/// the previous step), and which dispatches ran the layers (the rest are the embedding and the head).</summary>
public readonly record struct StepCounters(int Dispatches, int Barriers, ulong WeightBytes, TimeSpan Record, TimeSpan Submit, TimeSpan Wait,
    TimeSpan Exposed, Range LayerDispatches)
{
    /// <summary>Host time the step costs besides the device's own work: recording plus submitting.</summary>
    public TimeSpan HostOverhead => Record + Submit;

    /// <summary>The routed experts computed on the host in this step (none when all are on the device).</summary>
    public HostExpertCounters HostExperts { get; init; }
}

/// <summary>The host's share of a step: hand-offs (one device-to-host and one host-to-device round trip each), the
/// time computing the experts, the time waiting for the device to reach each hand-off, and the expert bytes read.</summary>
public readonly record struct HostExpertCounters(int HandOffs, TimeSpan Compute, TimeSpan WaitedForDevice, long WeightBytes);
