namespace Hunyuan.Vk.Execution;

/// <summary>What both sessions (<see cref="IModelSession"/>) check before they run tokens: room in the context and ids
/// in the vocabulary. The messages reach users as they are (the server's 400, the CLI's error line).</summary>
internal static class SessionArguments
{
    /// <summary>One token at <paramref name="position"/>.</summary>
    public static void Step(int token, int position, int maxPositions, int vocab)
    {
        if (position >= maxPositions)
        {
            throw new InvalidOperationException($"The context is full: {maxPositions} positions");
        }

        Token(token, vocab);
    }

    /// <summary>A prompt from <paramref name="position"/>.</summary>
    public static void Prompt(IReadOnlyList<int> tokens, int position, int maxPositions, int vocab)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Count == 0 || position + tokens.Count > maxPositions)
        {
            throw new InvalidOperationException($"{tokens.Count} prompt tokens at position {position} do not fit the context of {maxPositions} positions");
        }

        foreach (int t in tokens)
        {
            Token(t, vocab);
        }
    }

    private static void Token(int token, int vocab)
    {
        if (token < 0 || token >= vocab)
        {
            // No parameter name: the message reaches users as it is.
            throw new ArgumentException($"Token {token} is outside the vocabulary of {vocab}");
        }
    }
}
