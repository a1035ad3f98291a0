using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Cli;

/// <summary>
/// <c>hyvk serve</c> as a user runs it: a child process on a free port, health 503 then 200, a request, then SIGTERM
/// in the middle of a streamed reply: it stops, frees the device and exits 0.
/// </summary>
public sealed partial class ServeCommandTests : VulkanTest
{
    [Test]
    public async Task Serve_answers_then_stops_on_sigterm_mid_stream_with_exit_code_0()
    {
        string model = TestModels.Directory(TestModels.Tiny());
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (string a in new[] { typeof(Hunyuan.Vk.Cli.Program).Assembly.Location, "serve", "--model", model, "--port", "0", "--weights", "q8", "--context", "512" })
        {
            start.ArgumentList.Add(a);
        }

        using Process serve = Process.Start(start)!;
        var log = new StringBuilder();
        var serving = new TaskCompletionSource<Uri>();
        serve.ErrorDataReceived += (_, e) =>
        {
            lock (log)
            {
                log.AppendLine(e.Data);
            }

            if (e.Data is string line && Serving().Match(line) is { Success: true } m)
            {
                serving.TrySetResult(new Uri(m.Groups[1].Value));
            }
        };
        serve.BeginErrorReadLine();
        try
        {
            Uri address = await serving.Task.WaitAsync(TimeSpan.FromSeconds(120));
            using var http = new HttpClient { BaseAddress = address };
            Assert.That((await http.GetAsync("health")).StatusCode, Is.EqualTo(HttpStatusCode.OK));

            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = new StringContent("""{"prompt": [9906], "max_tokens": 400, "temperature": 0, "stream": true}""", Encoding.UTF8, "application/json"),
            };
            using HttpResponseMessage r = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            using var reader = new StreamReader(await r.Content.ReadAsStreamAsync());
            Assert.That(await reader.ReadLineAsync(), Does.StartWith("data: "));

            using (Process kill = Process.Start("kill", ["-TERM", serve.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync();
            }

            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await serve.WaitForExitAsync(timeout.Token);
            Assert.That(serve.ExitCode, Is.Zero, log.ToString());
            Assert.That(log.ToString(), Does.Contain("hyvk: stopping"));
        }
        finally
        {
            if (!serve.HasExited)
            {
                serve.Kill(entireProcessTree: true);
            }
        }
    }

    [GeneratedRegex(@"serving .* on (http://\S+/)v1")]
    private static partial Regex Serving();
}
