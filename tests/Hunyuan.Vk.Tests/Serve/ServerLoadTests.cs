using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Hunyuan.Vk.Server;
using Hunyuan.Vk.Generation;
using Hunyuan.Vk.Model.Formats;
using Hunyuan.Vk.Tests.Harness;

namespace Hunyuan.Vk.Tests.Serve;

/// <summary>
/// A bounded load on the real server: 8 concurrent clients send 200 chat requests, half streamed, every tenth
/// streamed one cancelled after its first chunk. Every other request completes with the same greedy answer; device
/// memory and the process's memory stay flat after the first requests; no task fails unobserved.
/// </summary>
[NonParallelizable]
public sealed class ServerLoadTests : VulkanTest
{
    private const string Body = """{"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 4, "temperature": 0, "stream": STREAM}""";

    [Test]
    public async Task Eight_clients_and_200_requests_with_cancellations_all_answer_the_same()
    {
        int unobserved = 0;
        void Count(object? sender, UnobservedTaskExceptionEventArgs e) => Interlocked.Increment(ref unobserved);
        TaskScheduler.UnobservedTaskException += Count;
        using HunyuanEngine engine = HunyuanEngine.Load(TestModels.Directory(TestModels.Tiny()), new EngineOptions { Weights = WeightFormat.Q8, ContextLength = 256 });
        await using OpenAiServer server = await OpenAiServer.StartAsync(new ServeOptions { Port = 0, Queue = 16 }, engine);
        // A dropped response closes its connection at once (no draining), as a client that leaves.
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = server.Address };
        try
        {
            string expected = await Answer(http, stream: false, cancel: false) ?? throw new AssertionException("the first request got no answer");
            for (int i = 0; i < 8; i++)
            {
                await Answer(http, stream: i % 2 == 0, cancel: false);   // warm-up: buffers, JIT, pools
            }

            long device = engine.DeviceBytesAllocated;
            GC.Collect();
            long managed = GC.GetTotalMemory(forceFullCollection: true);
            long rss = Process.GetCurrentProcess().WorkingSet64;

            int next = 0, cancelled = 0;
            var answers = new System.Collections.Concurrent.ConcurrentBag<string>();
            async Task Client()
            {
                for (int i; (i = Interlocked.Increment(ref next)) <= 200;)
                {
                    bool stream = i % 2 == 0, cancel = stream && i % 10 == 0;
                    string? answer = await Answer(http, stream, cancel);
                    if (cancel)
                    {
                        Interlocked.Increment(ref cancelled);
                    }
                    else
                    {
                        answers.Add(answer!);
                    }
                }
            }

            await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(Client)));
            Assert.That(cancelled, Is.EqualTo(20));
            Assert.That(answers, Has.Count.EqualTo(180));
            Assert.That(answers, Is.All.EqualTo(expected), "greedy answers to one prompt are identical, under load and after cancellations");
            Assert.That(engine.DeviceBytesAllocated, Is.EqualTo(device), "device memory flat");
            GC.Collect();
            Assert.That(GC.GetTotalMemory(forceFullCollection: true) - managed, Is.LessThan(16L << 20), "managed heap flat");
            Assert.That(Process.GetCurrentProcess().WorkingSet64 - rss, Is.LessThan(128L << 20), "RSS flat");

            // The server is still well: a plain request answers.
            Assert.That(await Answer(http, stream: false, cancel: false), Is.EqualTo(expected));
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Assert.That(unobserved, Is.Zero, "no task failed unobserved");
        }
        finally
        {
            TaskScheduler.UnobservedTaskException -= Count;
        }
    }

    // The answer text, whole or streamed; a cancelled stream is dropped after its first chunk (null).
    private static async Task<string?> Answer(HttpClient http, bool stream, bool cancel)
    {
        using var content = new StringContent(Body.Replace("STREAM", stream ? "true" : "false", StringComparison.Ordinal), Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = content };
        using HttpResponseMessage r = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.That(r.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        if (!stream)
        {
            return JsonNode.Parse(await r.Content.ReadAsStringAsync())!["choices"]![0]!["message"]!["content"]!.GetValue<string>();
        }

        using var reader = new StreamReader(await r.Content.ReadAsStreamAsync());
        var text = new StringBuilder();
        while (await reader.ReadLineAsync() is string line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            if (cancel)
            {
                return null;   // disposing the response closes the connection mid-stream
            }

            if (line == "data: [DONE]")
            {
                break;
            }

            JsonArray choices = JsonNode.Parse(line[6..])!["choices"]!.AsArray();
            text.Append(choices.Count > 0 ? choices[0]!["delta"]?["content"]?.GetValue<string>() : null);
        }

        return text.ToString();
    }
}
