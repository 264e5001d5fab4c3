using EdgeBuild.Generator.Json;

namespace EdgeBuild.Generator.Tests;

public class JsonReaderTests
{
    [Fact]
    public void ReadsEveryKindOfValue()
    {
        var root = JsonReader.Parse("\uFEFF { \"a\": [1, -2.5e3, 0, true, false, null], \"s\": \"q\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\" }\n");
        Assert.Equal(JsonKind.Object, root.Kind);
        var a = root["a"]!;
        Assert.Equal([JsonKind.Number, JsonKind.Number, JsonKind.Number, JsonKind.True, JsonKind.False, JsonKind.Null], a.Items!.Select(i => i.Kind));
        Assert.Equal("-2.5e3", a.Items![1].Text);
        Assert.True(a.Items[0].TryGetInt64(out long one) && one == 1);
        Assert.False(a.Items[1].TryGetInt64(out _));
        Assert.Equal("q\"\\/\b\f\n\r\té😀", root["s"]!.Text);
    }

    [Fact]
    public void TracksLinesAndColumns()
    {
        var root = JsonReader.Parse("{\n  \"a\": 1,\n  \"b\": [true]\n}");
        var b = root["b"]!;
        Assert.Equal(2, b.Span.StartLine);
        Assert.Equal(7, b.Span.StartColumn);
        Assert.Equal(2, b.Span.EndLine);
        Assert.Equal(13, b.Span.EndColumn);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("{", "end of the file")]
    [InlineData("{\"a\":1,}", "property name")]
    [InlineData("[1,]", "unexpected character")]
    [InlineData("{\"a\":1 \"b\":2}", "expected ','")]
    [InlineData("{\"a\":1,\"a\":2}", "duplicate property 'a'")]
    [InlineData("01", "leading zeros")]
    [InlineData("1.", "digit must follow '.'")]
    [InlineData("-", "digit must follow '-'")]
    [InlineData("1e", "exponent")]
    [InlineData("\"a\nb\"", "control character")]
    [InlineData("\"\\x\"", "invalid escape")]
    [InlineData("\"\\u12\"", "\\u escape")]
    [InlineData("\"abc", "unterminated string")]
    [InlineData("tru", "unexpected character")]
    [InlineData("// comment\n{}", "unexpected character '/'")]
    [InlineData("{} {}", "after the JSON value")]
    [InlineData("{'a':1}", "property name in double quotes")]
    [InlineData("NaN", "unexpected character 'N'")]
    public void RejectsWhatRfc8259Rejects(string text, string message)
    {
        var e = Assert.Throws<JsonSyntaxException>(() => JsonReader.Parse(text));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void DeepNestingIsAnErrorNotAStackOverflow()
    {
        var e = Assert.Throws<JsonSyntaxException>(() => JsonReader.Parse(new string('[', 100_000)));
        Assert.Contains("nested deeper than 64", e.Message);
        Assert.Equal(JsonKind.Array, JsonReader.Parse(new string('[', 64) + new string(']', 64)).Kind);
    }
}
