using System.Text.Json.Nodes;
using Hunyuan.Vk.Text;

namespace Hunyuan.Vk.Tests.Text;

/// <summary>The chat template against the spec's renders (6.1) and Tencent's published tool-calling renders, byte for byte.</summary>
public sealed class ChatTemplateTests
{
    [Test]
    public void Single_user() =>
        Assert.That(ChatTemplate.Render([ChatMessage.User("Hi")]), Is.EqualTo("<|startoftext|>Hi<|extra_0|>"));

    [Test]
    public void System_and_user() =>
        Assert.That(ChatTemplate.Render([ChatMessage.System("SYS"), ChatMessage.User("Hi")]),
            Is.EqualTo("<|startoftext|>SYS<|extra_4|>Hi<|extra_0|>"));

    [Test]
    public void Multi_turn() =>
        Assert.That(ChatTemplate.Render([ChatMessage.System("SYS"), ChatMessage.User("U1"), ChatMessage.Assistant("A1"), ChatMessage.User("U2")]),
            Is.EqualTo("<|startoftext|>SYS<|extra_4|>U1<|extra_0|>A1<|eos|><|startoftext|>U2<|extra_0|>"));

    [Test]
    public void Fast_thinking_appends_an_empty_thought() =>
        Assert.That(ChatTemplate.Render([ChatMessage.System("SYS"), ChatMessage.User("Hi")], new ChatTemplateOptions { Thinking = false }),
            Is.EqualTo("<|startoftext|>SYS<|extra_4|>Hi<|extra_0|><think>\n\n</think>\n"));

    [Test]
    public void Empty_system_keeps_the_official_quirk() =>
        Assert.That(ChatTemplate.Render([ChatMessage.System(string.Empty), ChatMessage.User("Hi")]),
            Is.EqualTo("<|startoftext|><|startoftext|>Hi<|extra_0|>"));

    [Test]
    public void Tool_result_without_tools() =>
        Assert.That(ChatTemplate.Render([ChatMessage.User("Hi"), ChatMessage.Assistant("A"), ChatMessage.Tool("{\"x\": 1}")]),
            Is.EqualTo("<|startoftext|>Hi<|extra_0|>A<|eos|>{\"x\": 1}<|extra_0|>"));

    [Test]
    public void A_system_message_after_the_first_is_refused() =>
        Assert.Throws<ArgumentException>(() => ChatTemplate.Render([ChatMessage.User("Hi"), ChatMessage.System("late")]));

    private static readonly JsonNode s_weatherTool = JsonNode.Parse(
        """{"type": "function", "function": {"name": "get_weather", "description": "Ability to check the weather in any city", "parameters": {"type": "object", "properties": {"city": {"description": "city name", "type": "string"}}, "required": ["city"]}}}""")!;

    private static List<ChatMessage> WeatherConversation() =>
    [
        ChatMessage.User("Hi, how are you?"),
        ChatMessage.Assistant("Thanks. I am doing well. How can I help you?"),
        ChatMessage.User("What's the weather like in Beijing and Shanghai?"),
        ChatMessage.Assistant(string.Empty) with
        {
            ToolCalls = [new ToolCall("get_weather", JsonNode.Parse("""{"city": "Beijing"}""")), new ToolCall("get_weather", JsonNode.Parse("""{"city": "ShangHai"}"""))],
        },
        ChatMessage.Tool("""[{"status_code": 200, "weather_info": {"city": "Beijing", "weather": "sunny"}}, {"status_code": 200, "weather_info": {"city": "Shanghai", "weather": "sunny"}}]"""),
        ChatMessage.Assistant("Beijing and Shanghai have sunny weather."),
        ChatMessage.User("Shenzhen"),
    ];

    private const string Header =
        "<|startoftext|>你是一位函数组合专家。你会得到一个问题和一组可能的函数。根据问题，你需要进行一个或多个函数/工具调用以实现目的。\n"
        + "如果没有一个函数可以使用，请直接使用自然语言回复用户，以助手：开头。\n"
        + "如果给定的问题缺少函数所需的参数，请使用自然语言进行提问，向用户询问必要信息，以助手：开头。\n"
        + "如果调用结果已经足够回答用户问题，请对历史结果进行总结，使用自然语言回复用户，以助手：开头。\n"
        + "你应该只在工具调用部分返回函数调用。如果你决定调用任何函数，你必须将其格式化为<tool_calls>[{\"name\": \"func_name1\", \"arguments\": {\"argument1\": \"value1\", \"argument2\": \"value2\"}},...]</tool_calls>。你不应该在回复中包含任何其他文本。以下是你可以调用的函数列表，格式为JSON。\n\n"
        + "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Ability to check the weather in any city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"description\": \"city name\", \"type\": \"string\"}}, \"required\": [\"city\"]}}}]\n\n";

    private const string Turns =
        "用户：Hi, how are you?<|extra_0|>助手：Thanks. I am doing well. How can I help you?<|eos|>用户：What's the weather like in Beijing and Shanghai?<|extra_0|>"
        + "<tool_calls>[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Beijing\"}}, {\"name\": \"get_weather\", \"arguments\": {\"city\": \"ShangHai\"}}]</tool_calls><|eos|>"
        + "<tool_response>[{\"status_code\": 200, \"weather_info\": {\"city\": \"Beijing\", \"weather\": \"sunny\"}}, {\"status_code\": 200, \"weather_info\": {\"city\": \"Shanghai\", \"weather\": \"sunny\"}}]</tool_response><|extra_0|>"
        + "助手：Beijing and Shanghai have sunny weather.<|eos|>用户：Shenzhen<|extra_0|>";

    [Test]
    public void Tools_with_a_system_message_match_the_published_render()
    {
        List<ChatMessage> messages = [ChatMessage.System("You are a weather agent."), .. WeatherConversation()];
        string expected = Header + "额外要求：\nYou are a weather agent.\n\n"
            + "如果你决定返回函数调用，请将其格式化为<tool_calls>[{\"name\": \"func_name1\", \"arguments\": {\"argument1\": \"value1\", \"argument2\": \"value2\"}},...]</tool_calls>，不得包含其他文本。如果额外要求里有格式要求，请忽略，以此处为准。\n"
            + "否则，请参考开头说的三种情况，以助手：开头进行回复。\n\n"
            + "如果额外要求里有时间信息，就以额外要求里的时间为准，否则，参考当前时间：2025-06-26 16:21:57 星期四<|extra_4|>" + Turns;
        string actual = ChatTemplate.Render(messages, new ChatTemplateOptions { Tools = [s_weatherTool], Now = new DateTime(2025, 6, 26, 16, 21, 57) });
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void Tools_without_a_system_message_match_the_published_render()
    {
        string expected = Header
            + "如果你决定返回函数调用，请将其格式化为<tool_calls>[{\"name\": \"func_name1\", \"arguments\": {\"argument1\": \"value1\", \"argument2\": \"value2\"}},...]</tool_calls>，不得包含其他文本。\n"
            + "否则，请参考开头说的三种情况，以助手：开头进行回复。\n\n"
            + "当前时间：2025-06-26 16:22:35 星期四<|extra_4|>" + Turns;
        string actual = ChatTemplate.Render(WeatherConversation(), new ChatTemplateOptions { Tools = [s_weatherTool], Now = new DateTime(2025, 6, 26, 16, 22, 35) });
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void Python_style_json_keeps_non_ascii_and_escapes_controls() =>
        Assert.That(PythonJson.Serialize(JsonNode.Parse("""{"城市": "深圳", "n": [1, 2.5, true, null], "s": "a\"b\\c\n\u0001"}""")),
            Is.EqualTo("{\"城市\": \"深圳\", \"n\": [1, 2.5, true, null], \"s\": \"a\\\"b\\\\c\\n\\u0001\"}"));
}
