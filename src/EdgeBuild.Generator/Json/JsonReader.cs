using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace EdgeBuild.Generator.Json;

internal enum JsonKind
{
    Object,
    Array,
    String,
    Number,
    True,
    False,
    Null,
}

/// <summary>Where a JSON value sits in its text: character offsets and zero-based line and column.</summary>
internal readonly struct JsonSpan
{
    public JsonSpan(int start, int end, int startLine, int startColumn, int endLine, int endColumn)
    {
        Start = start;
        End = end;
        StartLine = startLine;
        StartColumn = startColumn;
        EndLine = endLine;
        EndColumn = endColumn;
    }

    public int Start { get; }
    public int End { get; }
    public int StartLine { get; }
    public int StartColumn { get; }
    public int EndLine { get; }
    public int EndColumn { get; }
}

/// <summary>One JSON value and, for objects and arrays, its children in document order.</summary>
internal sealed class JsonNode
{
    private JsonNode(JsonKind kind, JsonSpan span, string? text, List<KeyValuePair<string, JsonNode>>? properties, List<JsonNode>? items)
    {
        Kind = kind;
        Span = span;
        Text = text;
        Properties = properties;
        Items = items;
    }

    public JsonKind Kind { get; }
    public JsonSpan Span { get; }

    /// <summary>A string's value, or a number's text exactly as written.</summary>
    public string? Text { get; }

    public List<KeyValuePair<string, JsonNode>>? Properties { get; }
    public List<JsonNode>? Items { get; }

    /// <summary>The property named <paramref name="key"/> of an object; null when absent or not an object.</summary>
    public JsonNode? this[string key]
    {
        get
        {
            if (Properties is null) return null;
            foreach (var p in Properties)
                if (p.Key == key) return p.Value;
            return null;
        }
    }

    /// <summary>A number written as an integer (no fraction, no exponent) that fits a long.</summary>
    public bool TryGetInt64(out long value)
    {
        value = 0;
        return Kind == JsonKind.Number && Text!.IndexOfAny(new[] { '.', 'e', 'E' }) < 0
            && long.TryParse(Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    public static JsonNode Object(JsonSpan span, List<KeyValuePair<string, JsonNode>> properties) => new(JsonKind.Object, span, null, properties, null);
    public static JsonNode Array(JsonSpan span, List<JsonNode> items) => new(JsonKind.Array, span, null, null, items);
    public static JsonNode Scalar(JsonKind kind, JsonSpan span, string? text) => new(kind, span, text, null, null);
}

/// <summary>A JSON syntax error with where it was found.</summary>
internal sealed class JsonSyntaxException : Exception
{
    public JsonSyntaxException(string message, JsonSpan span) : base(message) => Span = span;

    public JsonSpan Span { get; }
}

/// <summary>
/// A small, strict RFC 8259 reader: no comments, no trailing commas, no duplicate keys, no leading
/// zeros, nothing after the value, nesting at most <see cref="MaxDepth"/> deep (garbage must not
/// overflow the compiler's stack). Generators cannot easily carry a JSON library, and the manifest
/// needs no more than this.
/// </summary>
internal sealed class JsonReader
{
    public const int MaxDepth = 64;

    private readonly string text;
    private int position;
    private int line;
    private int lineStart;
    private int depth;

    private JsonReader(string text) => this.text = text;

    /// <summary>Parses <paramref name="text"/>: one value, surrounded by whitespace at most.</summary>
    /// <exception cref="JsonSyntaxException">The text is not JSON.</exception>
    public static JsonNode Parse(string text)
    {
        var reader = new JsonReader(text);
        // A byte order mark is not JSON, but editors write one; it carries no meaning.
        if (text.Length > 0 && text[0] == '\uFEFF') reader.position = 1;
        reader.SkipWhitespace();
        if (reader.AtEnd) throw reader.Error("the file is empty");
        var value = reader.ReadValue();
        reader.SkipWhitespace();
        if (!reader.AtEnd) throw reader.Error("unexpected text after the JSON value");
        return value;
    }

    private bool AtEnd => position >= text.Length;

    private JsonNode ReadValue()
    {
        if (AtEnd) throw Error("unexpected end of the file");
        char c = text[position];
        switch (c)
        {
            case '{': return ReadObject();
            case '[': return ReadArray();
            case '"':
            {
                var (startLine, startColumn, start) = (line, position - lineStart, position);
                string s = ReadString();
                return JsonNode.Scalar(JsonKind.String, SpanFrom(start, startLine, startColumn), s);
            }
            case 't': return ReadLiteral("true", JsonKind.True);
            case 'f': return ReadLiteral("false", JsonKind.False);
            case 'n': return ReadLiteral("null", JsonKind.Null);
            default:
                if (c == '-' || (c >= '0' && c <= '9')) return ReadNumber();
                throw Error($"unexpected character {Describe(c)}");
        }
    }

    private JsonNode ReadObject()
    {
        var (startLine, startColumn, start) = (line, position - lineStart, position);
        Enter();
        position++;
        var properties = new List<KeyValuePair<string, JsonNode>>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        SkipWhitespace();
        if (Peek() == '}')
        {
            position++;
            depth--;
            return JsonNode.Object(SpanFrom(start, startLine, startColumn), properties);
        }
        while (true)
        {
            SkipWhitespace();
            if (Peek() != '"') throw Error(AtEnd ? "unexpected end of the file in an object" : "expected a property name in double quotes");
            var keySpan = (line, position - lineStart, position);
            string key = ReadString();
            if (!keys.Add(key))
                throw new JsonSyntaxException($"duplicate property '{key}'", SpanFrom(keySpan.Item3, keySpan.Item1, keySpan.Item2));
            SkipWhitespace();
            Expect(':');
            SkipWhitespace();
            properties.Add(new KeyValuePair<string, JsonNode>(key, ReadValue()));
            SkipWhitespace();
            char c = Peek();
            if (c == ',') { position++; continue; }
            if (c == '}') { position++; break; }
            throw Error(AtEnd ? "unexpected end of the file in an object" : "expected ',' or '}' in an object");
        }
        depth--;
        return JsonNode.Object(SpanFrom(start, startLine, startColumn), properties);
    }

    private JsonNode ReadArray()
    {
        var (startLine, startColumn, start) = (line, position - lineStart, position);
        Enter();
        position++;
        var items = new List<JsonNode>();
        SkipWhitespace();
        if (Peek() == ']')
        {
            position++;
            depth--;
            return JsonNode.Array(SpanFrom(start, startLine, startColumn), items);
        }
        while (true)
        {
            SkipWhitespace();
            items.Add(ReadValue());
            SkipWhitespace();
            char c = Peek();
            if (c == ',') { position++; continue; }
            if (c == ']') { position++; break; }
            throw Error(AtEnd ? "unexpected end of the file in an array" : "expected ',' or ']' in an array");
        }
        depth--;
        return JsonNode.Array(SpanFrom(start, startLine, startColumn), items);
    }

    private string ReadString()
    {
        position++; // opening quote
        var sb = new StringBuilder();
        while (true)
        {
            if (AtEnd) throw Error("unterminated string");
            char c = text[position];
            if (c == '"') { position++; return sb.ToString(); }
            if (c < 0x20) throw Error($"control character {Describe(c)} in a string (escape it)");
            if (c != '\\') { sb.Append(c); position++; continue; }
            position++;
            if (AtEnd) throw Error("unterminated string");
            char e = text[position++];
            switch (e)
            {
                case '"': sb.Append('"'); break;
                case '\\': sb.Append('\\'); break;
                case '/': sb.Append('/'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'n': sb.Append('\n'); break;
                case 'r': sb.Append('\r'); break;
                case 't': sb.Append('\t'); break;
                case 'u':
                    if (position + 4 > text.Length) throw Error("truncated \\u escape");
                    int code = 0;
                    for (int i = 0; i < 4; i++)
                    {
                        int digit = HexValue(text[position + i]);
                        if (digit < 0) throw Error("invalid \\u escape (four hex digits expected)");
                        code = code * 16 + digit;
                    }
                    position += 4;
                    // Lone surrogates are kept as written: C# strings hold them, and the emitter escapes them.
                    sb.Append((char)code);
                    break;
                default:
                    position--;
                    throw Error($"invalid escape '\\{e}'");
            }
        }
    }

    private JsonNode ReadNumber()
    {
        var (startLine, startColumn, start) = (line, position - lineStart, position);
        if (Peek() == '-') position++;
        if (Peek() == '0')
        {
            position++;
            if (IsDigit(Peek())) throw Error("leading zeros are not allowed in numbers");
        }
        else if (IsDigit(Peek()))
        {
            while (IsDigit(Peek())) position++;
        }
        else throw Error("a digit must follow '-'");
        if (Peek() == '.')
        {
            position++;
            if (!IsDigit(Peek())) throw Error("a digit must follow '.' in a number");
            while (IsDigit(Peek())) position++;
        }
        if (Peek() == 'e' || Peek() == 'E')
        {
            position++;
            if (Peek() == '+' || Peek() == '-') position++;
            if (!IsDigit(Peek())) throw Error("a digit must follow the exponent in a number");
            while (IsDigit(Peek())) position++;
        }
        return JsonNode.Scalar(JsonKind.Number, SpanFrom(start, startLine, startColumn), text.Substring(start, position - start));
    }

    private JsonNode ReadLiteral(string literal, JsonKind kind)
    {
        var (startLine, startColumn, start) = (line, position - lineStart, position);
        if (string.CompareOrdinal(text, position, literal, 0, literal.Length) != 0)
            throw Error($"unexpected character {Describe(text[position])}");
        position += literal.Length;
        return JsonNode.Scalar(kind, SpanFrom(start, startLine, startColumn), null);
    }

    private void Enter()
    {
        if (++depth > MaxDepth) throw Error($"nested deeper than {MaxDepth} levels");
    }

    private void SkipWhitespace()
    {
        while (!AtEnd)
        {
            char c = text[position];
            if (c == '\n') { position++; line++; lineStart = position; }
            else if (c == ' ' || c == '\t' || c == '\r') position++;
            else break;
        }
    }

    private void Expect(char c)
    {
        if (Peek() != c) throw Error(AtEnd ? $"unexpected end of the file (expected '{c}')" : $"expected '{c}'");
        position++;
    }

    private char Peek() => AtEnd ? '\0' : text[position];

    private static bool IsDigit(char c) => c >= '0' && c <= '9';

    private static int HexValue(char c) =>
        c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

    private static string Describe(char c) =>
        c >= 0x20 && c < 0x7F ? $"'{c}'" : "U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture);

    // Strings never contain raw newlines (rejected as control characters), so only whitespace moves lines.
    private JsonSpan SpanFrom(int start, int startLine, int startColumn) =>
        new(start, position, startLine, startColumn, line, position - lineStart);

    private JsonSyntaxException Error(string message)
    {
        int column = position - lineStart;
        int end = Math.Min(position + 1, text.Length);
        return new JsonSyntaxException(message, new JsonSpan(Math.Min(position, text.Length), end, line, column, line, column + (end - Math.Min(position, text.Length))));
    }
}
