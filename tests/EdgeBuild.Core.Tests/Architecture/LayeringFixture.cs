// Types for LayeringTests: each namespace reaches Bottom in one way that only the IL shows.
namespace EdgeBuild.Tests.Architecture.LayeringFixture.Bottom
{
    public static class Helper
    {
        public static int Value() => 1;
    }

    public sealed class Payload;
}

namespace EdgeBuild.Tests.Architecture.LayeringFixture.CallOnly
{
    public static class User
    {
        public static int Use() => Bottom.Helper.Value();
    }
}

namespace EdgeBuild.Tests.Architecture.LayeringFixture.LambdaOnly
{
    public static class User
    {
        // The lambda's body is a method of a compiler-generated type nested in User.
        public static Func<int> Make() => () => Bottom.Helper.Value() + 1;
    }
}

namespace EdgeBuild.Tests.Architecture.LayeringFixture.GenericArgumentOnly
{
    public static class User
    {
        public static int Count() => new List<Bottom.Payload>().Count;
    }
}

namespace EdgeBuild.Tests.Architecture.LayeringFixture.Unrelated
{
    public static class User
    {
        public static int Use() => 2;
    }
}
