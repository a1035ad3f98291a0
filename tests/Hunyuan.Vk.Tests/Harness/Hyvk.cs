namespace Hunyuan.Vk.Tests.Harness;

/// <summary>Runs <c>hyvk</c> in-process with its standard output and error captured.</summary>
public static class Hyvk
{
    private static readonly object s_console = new();

    public static (int Exit, string Out, string Error) Run(params string[] args) => RunWithInput(string.Empty, args);

    /// <summary>Runs with <paramref name="input"/> as standard input.</summary>
    public static (int Exit, string Out, string Error) RunWithInput(string input, params string[] args)
    {
        lock (s_console)
        {
            TextWriter savedOut = Console.Out, savedError = Console.Error;
            TextReader savedIn = Console.In;
            Console.SetIn(new StringReader(input));
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
                Console.SetIn(savedIn);
            }
        }
    }
}
