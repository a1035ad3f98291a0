namespace Hunyuan.Vk.Tests.Harness;

/// <summary>Runs <c>hyvk</c> in-process with its standard output and error captured.</summary>
public static class Hyvk
{
    private static readonly object s_console = new();

    public static (int Exit, string Out, string Error) Run(params string[] args)
    {
        lock (s_console)
        {
            TextWriter savedOut = Console.Out, savedError = Console.Error;
            using var output = new StringWriter();
            using var error = new StringWriter();
            Console.SetOut(output);
            Console.SetError(error);
            try
            {
                return (Hunyuan.Vk.Cli.Program.Main(args), output.ToString(), error.ToString());
            }
            finally
            {
                Console.SetOut(savedOut);
                Console.SetError(savedError);
            }
        }
    }
}
