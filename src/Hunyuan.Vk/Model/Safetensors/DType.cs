namespace Hunyuan.Vk.Model.Safetensors;

/// <summary>The safetensors dtypes the engine reads.</summary>
public enum DType
{
    BF16,
    F16,
    F32,
    F8E4M3,
    I32,
    I8,
    U8,
}

public static class DTypes
{
    public static int Size(this DType t) => t switch
    {
        DType.BF16 or DType.F16 => 2,
        DType.F32 or DType.I32 => 4,
        _ => 1,
    };

    /// <summary>The dtype's name in a safetensors header.</summary>
    public static string Name(this DType t) => t switch
    {
        DType.F8E4M3 => "F8_E4M3",
        _ => t.ToString(),
    };

    public static bool TryParse(string name, out DType type)
    {
        switch (name)
        {
            case "BF16": type = DType.BF16; return true;
            case "F16": type = DType.F16; return true;
            case "F32": type = DType.F32; return true;
            case "F8_E4M3": type = DType.F8E4M3; return true;
            case "I32": type = DType.I32; return true;
            case "I8": type = DType.I8; return true;
            case "U8": type = DType.U8; return true;
            default: type = default; return false;
        }
    }
}
