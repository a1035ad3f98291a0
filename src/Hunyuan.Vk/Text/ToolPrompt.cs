namespace Hunyuan.Vk.Text;

/// <summary>
/// The fixed function-calling prompt of Hunyuan-A13B's chat template (Tencent's agent guide and template): the model was
/// trained on this text, so it is reproduced exactly. In short it says: you are a function-composition expert; call one
/// or more functions as &lt;tool_calls&gt;[{"name": ..., "arguments": {...}}]&lt;/tool_calls&gt;; when no function applies,
/// arguments are missing, or the results suffice, answer in natural language starting with 助手： ("Assistant:").
/// </summary>
internal static class ToolPrompt
{
    private const string CallFormat = "<tool_calls>[{\"name\": \"func_name1\", \"arguments\": {\"argument1\": \"value1\", \"argument2\": \"value2\"}},...]</tool_calls>";

    public const string Header =
        "你是一位函数组合专家。你会得到一个问题和一组可能的函数。根据问题，你需要进行一个或多个函数/工具调用以实现目的。\n"
        + "如果没有一个函数可以使用，请直接使用自然语言回复用户，以助手：开头。\n"
        + "如果给定的问题缺少函数所需的参数，请使用自然语言进行提问，向用户询问必要信息，以助手：开头。\n"
        + "如果调用结果已经足够回答用户问题，请对历史结果进行总结，使用自然语言回复用户，以助手：开头。\n"
        + "你应该只在工具调用部分返回函数调用。如果你决定调用任何函数，你必须将其格式化为" + CallFormat
        + "。你不应该在回复中包含任何其他文本。以下是你可以调用的函数列表，格式为JSON。";

    public const string ExtraRequirements = "额外要求：\n";

    public const string FormatReminderWithExtra =
        "如果你决定返回函数调用，请将其格式化为" + CallFormat + "，不得包含其他文本。如果额外要求里有格式要求，请忽略，以此处为准。\n"
        + "否则，请参考开头说的三种情况，以助手：开头进行回复。\n\n";

    public const string FormatReminder =
        "如果你决定返回函数调用，请将其格式化为" + CallFormat + "，不得包含其他文本。\n"
        + "否则，请参考开头说的三种情况，以助手：开头进行回复。\n\n";

    public const string TimeWithExtra = "如果额外要求里有时间信息，就以额外要求里的时间为准，否则，参考当前时间：";

    public const string Time = "当前时间：";

    public const string UserPrefix = "用户：";

    public const string AssistantPrefix = "助手：";
}
