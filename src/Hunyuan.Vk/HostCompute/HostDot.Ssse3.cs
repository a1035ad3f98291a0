using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Hunyuan.Vk.HostCompute;

/// <summary>The 128-bit (SSSE3) helpers of the dots.</summary>
internal static partial class HostDot
{
    // 16 signed weights times 16 q, in 4 lanes of int32: |w| unsigned against q with w's sign (pmaddubsw), pairs summed.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<int> Pairs128(Vector128<sbyte> w, Vector128<sbyte> q) =>
        Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(Ssse3.Abs(w), Ssse3.Sign(q, w)), Vector128.Create((short)1));
}
