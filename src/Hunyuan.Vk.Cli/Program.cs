using System.CommandLine;
using Hunyuan.Vk.Cli.Commands;

namespace Hunyuan.Vk.Cli;

/// <summary>The <c>hyvk</c> command: Hunyuan-A13B on any Vulkan device.</summary>
public static class Program
{
    public static int Main(string[] args) => BuildRoot().Parse(args).Invoke();

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("hyvk: run Tencent's Hunyuan-A13B on any Vulkan GPU (NVIDIA, AMD, Intel) or on Mesa lavapipe.");
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ChatCommand.Create());
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        root.Subcommands.Add(DevicesCommand.Create());
        root.Subcommands.Add(SelfTestCommand.Create());
        root.Subcommands.Add(MakeModelCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        return root;
    }
}
