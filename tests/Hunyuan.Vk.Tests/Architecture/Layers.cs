using Mono.Cecil;
using Mono.Cecil.Cil;

namespace Hunyuan.Vk.Tests.Architecture;

/// <summary>
/// The namespaces of the engine in layers, lowest first, and a check that no type uses a type of a layer above its own:
/// every type a type names anywhere (base, interfaces, attributes, fields, properties, signatures, locals, and each
/// instruction's operand) is read from the compiled IL.
/// </summary>
public static class Layers
{
    /// <summary>The engine's layers, lowest first (docs/architecture.md): each may use the ones before it.</summary>
    public static IReadOnlyList<string> Engine { get; } =
    [
        "Hunyuan.Vk.Reference",      // the float64 CPU reference: nothing of the engine
        "Hunyuan.Vk.Text",           // tokenizer, chat template, reply parser
        "Hunyuan.Vk.Model",          // config, checkpoints, formats, the weight plan
        "Hunyuan.Vk.HostCompute",    // the CPU kernels for host experts
        "Hunyuan.Vk.Vulkan",         // the device: buffers, pipelines, command recording
        "Hunyuan.Vk.Kernels",        // one class per shader, the tuning
        "Hunyuan.Vk.Execution",      // weights on the device, the session plan, the step
        "Hunyuan.Vk.Diagnostics",    // selftest
        "Hunyuan.Vk.Benchmarking",   // bench's measurements
        "Hunyuan.Vk.Generation",     // the engine's public API: text in, text out
        "Hunyuan.Vk.Server",         // the OpenAI-compatible server
        "Hunyuan.Vk.Cli",            // hyvk
    ];

    /// <summary>The layer of <paramref name="ns"/>: the longest name in <paramref name="layers"/> it is or lies under, or -1.</summary>
    public static int Of(string ns, IReadOnlyList<string> layers)
    {
        int best = -1;
        for (int i = 0; i < layers.Count; i++)
        {
            if ((ns == layers[i] || ns.StartsWith(layers[i] + ".", StringComparison.Ordinal)) && (best < 0 || layers[i].Length > layers[best].Length))
            {
                best = i;
            }
        }

        return best;
    }

    /// <summary>Every use of a type of a higher layer by a type of <paramref name="assembly"/> whose namespace starts with
    /// <paramref name="scope"/>, as "user -> used"; types of namespaces in no layer are reported too.</summary>
    public static List<string> UpwardReferences(string assembly, IReadOnlyList<string> layers, string scope)
    {
        var found = new SortedSet<string>(StringComparer.Ordinal);
        using ModuleDefinition module = ModuleDefinition.ReadModule(assembly);
        foreach (TypeDefinition type in module.GetTypes())
        {
            string ns = Namespace(type);
            if (!ns.StartsWith(scope, StringComparison.Ordinal))
            {
                continue;
            }

            int layer = Of(ns, layers);
            if (layer < 0)
            {
                found.Add($"{type.FullName}: namespace {ns} is in no layer");
                continue;
            }

            foreach (TypeReference used in Used(type).SelectMany(Unwrap))
            {
                string usedNs = Namespace(used);
                int usedLayer = Of(usedNs, layers);
                if (usedLayer > layer)
                {
                    found.Add($"{ns} -> {usedNs} ({Outer(type).FullName} uses {used.FullName})");
                }
            }
        }

        return [.. found];
    }

    private static TypeReference Outer(TypeReference t) => t.DeclaringType is null ? t : Outer(t.DeclaringType);

    private static string Namespace(TypeReference t) => Outer(t).Namespace;

    private static IEnumerable<TypeReference> Unwrap(TypeReference? t)
    {
        switch (t)
        {
            case null or GenericParameter:
                yield break;
            case GenericInstanceType g:
                foreach (TypeReference inner in new[] { g.ElementType }.Concat(g.GenericArguments).SelectMany(Unwrap))
                {
                    yield return inner;
                }

                yield break;
            case TypeSpecification s:
                foreach (TypeReference inner in Unwrap(s.ElementType))
                {
                    yield return inner;
                }

                yield break;
            default:
                yield return t;
                yield break;
        }
    }

    private static IEnumerable<TypeReference?> Used(TypeDefinition t)
    {
        yield return t.BaseType;
        foreach (InterfaceImplementation i in t.Interfaces)
        {
            yield return i.InterfaceType;
        }

        foreach (CustomAttribute a in t.CustomAttributes)
        {
            yield return a.AttributeType;
        }

        foreach (FieldDefinition f in t.Fields)
        {
            yield return f.FieldType;
        }

        foreach (PropertyDefinition p in t.Properties)
        {
            yield return p.PropertyType;
        }

        foreach (MethodDefinition m in t.Methods)
        {
            yield return m.ReturnType;
            foreach (ParameterDefinition p in m.Parameters)
            {
                yield return p.ParameterType;
            }

            foreach (CustomAttribute a in m.CustomAttributes)
            {
                yield return a.AttributeType;
            }

            if (!m.HasBody)
            {
                continue;
            }

            foreach (VariableDefinition v in m.Body.Variables)
            {
                yield return v.VariableType;
            }

            foreach (Instruction i in m.Body.Instructions)
            {
                switch (i.Operand)
                {
                    case TypeReference r:
                        yield return r;
                        break;
                    case MethodReference r:
                        yield return r.DeclaringType;
                        yield return r.ReturnType;
                        foreach (ParameterDefinition p in r.Parameters)
                        {
                            yield return p.ParameterType;
                        }

                        if (r is GenericInstanceMethod g)
                        {
                            foreach (TypeReference a in g.GenericArguments)
                            {
                                yield return a;
                            }
                        }

                        break;
                    case FieldReference r:
                        yield return r.DeclaringType;
                        yield return r.FieldType;
                        break;
                }
            }
        }
    }
}
