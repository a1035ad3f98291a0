using System.CommandLine;
using System.Runtime.InteropServices;
using Hunyuan.Vk.Execution;
using Hunyuan.Vk.Server;
using Hunyuan.Vk.Generation;

namespace Hunyuan.Vk.Cli.Commands;

/// <summary>
/// <c>hyvk serve</c>: the OpenAI-compatible server (<see cref="OpenAiServer"/>). It listens at once (health answers
/// 503 while the model loads), then loads; Ctrl-C or SIGTERM stops accepting, lets the running generation end (cancelled
/// after a few seconds), frees the device and exits 0.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = "Model directory; default: the random demo model" };
        var host = new Option<string>("--host") { Description = "Address to listen on (loopback by default; 0.0.0.0 for all)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require Authorization: Bearer KEY on /v1 requests" };
        var context = new Option<int>("--context") { Description = "KV-cache positions (longest prompt + reply)", DefaultValueFactory = _ => 4096 };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait while one generates (more get 503)", DefaultValueFactory = _ => 16 };
        var weights = CliOptions.Weights();
        var device = CliOptions.Executor();
        var threads = CliOptions.Threads();
        var deviceMemory = CliOptions.DeviceMemory();
        var hostExperts = CliOptions.HostExperts();
        var kv = CliOptions.KvCache();
        var command = new Command("serve", "Serve the model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/models, /health)");
        foreach (Option o in new Option[] { model, host, port, apiKey, context, queue, weights, device, threads, deviceMemory, hostExperts, kv })
        {
            command.Options.Add(o);
        }

        port.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 65535)
            {
                r.AddError("--port must be from 0 to 65535");
            }
        });
        queue.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0)
            {
                r.AddError("--queue must be 0 or more");
            }
        });
        context.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 2)
            {
                r.AddError("--context must be at least 2");
            }
        });
        command.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(model), new ServeOptions
        {
            Host = parse.GetValue(host)!,
            Port = parse.GetValue(port),
            ApiKey = parse.GetValue(apiKey),
            Queue = parse.GetValue(queue),
        }, parse.GetValue(weights), parse.GetValue(context), parse.GetValue(device)!, parse.GetValue(threads), CliOptions.Placement(parse.GetValue(deviceMemory), parse.GetValue(hostExperts)!, parse.GetValue(kv)!))));
        return command;
    }

    private static int Run(string? modelArg, ServeOptions options, string? weightsArg, int context, string device, int threads, LoadOptions placement)
    {
        using var stop = new ManualResetEventSlim();
        using PosixSignalRegistration term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c =>
        {
            c.Cancel = true;
            stop.Set();
        });
        using PosixSignalRegistration interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c =>
        {
            c.Cancel = true;
            stop.Set();
        });
        OpenAiServer server = OpenAiServer.StartAsync(options).GetAwaiter().GetResult();
        HunyuanEngine? engine = null;
        try
        {
            Console.Error.WriteLine($"hyvk: listening on {server.Address} (health 503 until the model is loaded)");
            engine = EngineLoader.Load(modelArg, weightsArg, context, device, placement, threads);
            server.SetEngine(engine);
            Console.Error.WriteLine($"hyvk: serving {options.ModelId} on {server.Address}v1 ({engine.Executor}, context {engine.ContextLength}); Ctrl-C stops");
            stop.Wait();
            Console.Error.WriteLine("hyvk: stopping");
            server.StopAsync(TimeSpan.FromSeconds(5)).GetAwaiter().GetResult();
            return 0;
        }
        finally
        {
            server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            engine?.Dispose();
        }
    }
}
