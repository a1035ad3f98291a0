namespace Hunyuan.Vk.Server;

/// <summary>A request the server refuses, answered in OpenAI's error shape
/// <c>{"error": {"message", "type", "param", "code"}}</c> with <see cref="Status"/>.</summary>
internal sealed class ApiError(int status, string message, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;
    public string? Param { get; } = param;
    public string? Code { get; } = code;

    public string Type => Status switch
    {
        401 => "authentication_error",
        404 => "not_found_error",
        503 => "server_busy",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    public static ApiError Invalid(string message, string? param = null) => new(400, message, param);
}
