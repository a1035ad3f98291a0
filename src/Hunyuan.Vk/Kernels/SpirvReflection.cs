using System.Buffers.Binary;
using Hunyuan.Vk.Vulkan;

namespace Hunyuan.Vk.Kernels;

/// <summary>
/// Reads from SPIR-V what the host must agree with: the descriptor bindings of set 0 (storage, uniform or uniform texel
/// buffers) and the
/// push-constant block's member offsets and size. Used to check each kernel's C# mirror of its shader.
/// </summary>
internal sealed class SpirvReflection
{
    private const uint Magic = 0x07230203;

    /// <summary>Binding number -> what the shader declares there.</summary>
    public IReadOnlyDictionary<uint, BindingKind> Bindings { get; }

    /// <summary>Byte offsets of the push-constant block's members, in member order; empty when there is none.</summary>
    public IReadOnlyList<uint> PushConstantOffsets { get; }

    /// <summary>Bytes of the push-constant block: its last member's offset plus that member's size; 0 when there is none.</summary>
    public uint PushConstantSize { get; }

    /// <summary>Storage bindings the shader may write (declared without <c>readonly</c>).</summary>
    public IReadOnlySet<uint> WrittenBindings { get; }

    /// <summary>The SPIR-V capabilities the shader declares (OpCapability): what a device must support to run it.</summary>
    public IReadOnlySet<uint> Capabilities { get; }

    private SpirvReflection(IReadOnlyDictionary<uint, BindingKind> bindings, IReadOnlyList<uint> pushOffsets, uint pushSize, IReadOnlySet<uint> written,
        IReadOnlySet<uint> capabilities)
    {
        Capabilities = capabilities;
        Bindings = bindings;
        PushConstantOffsets = pushOffsets;
        PushConstantSize = pushSize;
        WrittenBindings = written;
    }

    public static SpirvReflection Parse(ReadOnlySpan<byte> spirv)
    {
        if (spirv.Length < 20 || spirv.Length % 4 != 0 || BinaryPrimitives.ReadUInt32LittleEndian(spirv) != Magic)
        {
            throw new InvalidDataException("Not a little-endian SPIR-V module");
        }

        var binding = new Dictionary<uint, uint>();          // variable id -> binding
        var bufferBlock = new HashSet<uint>();               // struct ids decorated BufferBlock (old-style SSBO)
        var pointerTarget = new Dictionary<uint, (uint Class, uint Type)>();
        var variables = new List<(uint Id, uint PointerType, uint Class)>();
        var memberOffsets = new Dictionary<uint, SortedDictionary<uint, uint>>();
        var bufferImages = new HashSet<uint>();              // OpTypeImage with Dim Buffer, and sampled images of them
        var structMembers = new Dictionary<uint, int>();     // struct id -> member count
        var readOnlyMembers = new Dictionary<uint, int>();   // struct id -> members decorated NonWritable
        var readOnlyVariables = new HashSet<uint>();         // variables decorated NonWritable
        var scalarBytes = new Dictionary<uint, uint>();      // int, float and vector type ids -> bytes
        var lastMemberType = new Dictionary<uint, uint>();   // struct id -> type of its last member
        var capabilities = new HashSet<uint>();

        for (int at = 20; at < spirv.Length;)
        {
            uint first = Word(spirv, at);
            int count = (int)(first >> 16);
            uint op = first & 0xFFFF;
            if (count == 0)
            {
                throw new InvalidDataException($"SPIR-V instruction of length 0 at byte {at}");
            }

            switch (op)
            {
                case 17:                                           // OpCapability capability
                    capabilities.Add(Word(spirv, at + 4));
                    break;
                case 71 when Word(spirv, at + 8) == 33:            // OpDecorate id Binding n
                    binding[Word(spirv, at + 4)] = Word(spirv, at + 12);
                    break;
                case 71 when Word(spirv, at + 8) == 3:             // OpDecorate id BufferBlock
                    bufferBlock.Add(Word(spirv, at + 4));
                    break;
                case 71 when Word(spirv, at + 8) == 24:            // OpDecorate id NonWritable
                    readOnlyVariables.Add(Word(spirv, at + 4));
                    break;
                case 72 when Word(spirv, at + 12) == 24:           // OpMemberDecorate struct member NonWritable
                    readOnlyMembers[Word(spirv, at + 4)] = readOnlyMembers.GetValueOrDefault(Word(spirv, at + 4)) + 1;
                    break;
                case 30:                                           // OpTypeStruct result members...
                    structMembers[Word(spirv, at + 4)] = count - 2;
                    if (count > 2)
                    {
                        lastMemberType[Word(spirv, at + 4)] = Word(spirv, at + (count - 1) * 4);
                    }

                    break;
                case 21 or 22:                                     // OpTypeInt / OpTypeFloat result width ...
                    scalarBytes[Word(spirv, at + 4)] = Word(spirv, at + 8) / 8;
                    break;
                case 23:                                           // OpTypeVector result component count
                    scalarBytes[Word(spirv, at + 4)] = scalarBytes.GetValueOrDefault(Word(spirv, at + 8)) * Word(spirv, at + 12);
                    break;
                case 72 when Word(spirv, at + 12) == 35:           // OpMemberDecorate struct member Offset n
                    uint type = Word(spirv, at + 4);
                    if (!memberOffsets.TryGetValue(type, out SortedDictionary<uint, uint>? members))
                    {
                        memberOffsets[type] = members = [];
                    }

                    members[Word(spirv, at + 8)] = Word(spirv, at + 16);
                    break;
                case 25 when Word(spirv, at + 12) == 5:            // OpTypeImage result sampledType Dim=Buffer
                    bufferImages.Add(Word(spirv, at + 4));
                    break;
                case 27 when bufferImages.Contains(Word(spirv, at + 8)):   // OpTypeSampledImage result image
                    bufferImages.Add(Word(spirv, at + 4));
                    break;
                case 32:                                           // OpTypePointer result class type
                    pointerTarget[Word(spirv, at + 4)] = (Word(spirv, at + 8), Word(spirv, at + 12));
                    break;
                case 59:                                           // OpVariable type result class
                    variables.Add((Word(spirv, at + 8), Word(spirv, at + 4), Word(spirv, at + 12)));
                    break;
                default:
                    break;
            }

            at += count * 4;
        }

        const uint UniformConstant = 0, Uniform = 2, PushConstant = 9, StorageBuffer = 12;
        var bindings = new Dictionary<uint, BindingKind>();
        var written = new HashSet<uint>();
        IReadOnlyList<uint> push = [];
        uint pushSize = 0;
        foreach ((uint id, uint pointer, uint storageClass) in variables)
        {
            uint block = pointerTarget.TryGetValue(pointer, out var target) ? target.Type : 0;
            if (storageClass == PushConstant)
            {
                push = memberOffsets.TryGetValue(block, out var m) ? [.. m.Values] : [];
                if (push.Count > 0)
                {
                    uint last = scalarBytes.GetValueOrDefault(lastMemberType.GetValueOrDefault(block));
                    pushSize = last > 0 ? push[^1] + last
                        : throw new InvalidDataException("The push-constant block ends in a member that is not a scalar or vector");
                }
            }
            else if (binding.TryGetValue(id, out uint b) && storageClass is Uniform or StorageBuffer)
            {
                bindings[b] = storageClass == StorageBuffer || bufferBlock.Contains(block) ? BindingKind.Storage : BindingKind.Uniform;
                bool readOnly = readOnlyVariables.Contains(id) || readOnlyMembers.GetValueOrDefault(block) == structMembers.GetValueOrDefault(block, -1);
                if (bindings[b] == BindingKind.Storage && !readOnly)
                {
                    written.Add(b);
                }
            }
            else if (binding.TryGetValue(id, out b) && storageClass == UniformConstant && bufferImages.Contains(block))
            {
                bindings[b] = BindingKind.UniformTexel;
            }
        }

        return new SpirvReflection(bindings, push, pushSize, written, capabilities);
    }

    private static uint Word(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
}
