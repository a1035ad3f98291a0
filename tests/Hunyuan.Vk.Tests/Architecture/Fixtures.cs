#pragma warning disable SA1403, CA1812, IDE0051 // fixtures for LayeringTests: namespaces side by side, types never made

namespace Hunyuan.Vk.Tests.Architecture.Fixtures.Upper
{
    internal sealed class Thing
    {
        public static int Count => Lower.Base.Zero + 1;   // downward: allowed
    }
}

namespace Hunyuan.Vk.Tests.Architecture.Fixtures.Lower
{
    internal sealed class Base
    {
        public const int Zero = 0;

        // Upward: a lower layer naming a type of the upper one (in a method body only, as the IL has it).
        public static object Make() => new Upper.Thing();
    }
}

namespace Hunyuan.Vk.Tests.Architecture.Fixtures.Elsewhere
{
    internal sealed class Stray
    {
    }
}
