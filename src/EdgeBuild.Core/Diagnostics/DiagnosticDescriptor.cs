namespace EdgeBuild.Diagnostics;

/// <summary>One row of the diagnostics table: a stable code, a title, and what the user should do.</summary>
public sealed record DiagnosticDescriptor(string Code, string Title, string Help);

/// <summary>
/// A user-facing failure: printed as <c>error EBnnnn: &lt;subject&gt;: message</c>, never with a stack trace.
/// <see cref="Subject"/> is the file or item the problem is in.
/// </summary>
public sealed class EdgeBuildException : Exception
{
    public EdgeBuildException(DiagnosticDescriptor descriptor, string subject, string message, Exception? inner = null)
        : base(message, inner)
    {
        Descriptor = descriptor;
        Subject = subject;
    }

    public DiagnosticDescriptor Descriptor { get; }
    public string Subject { get; }
    public string Code => Descriptor.Code;

    /// <summary>
    /// The one line a user sees: <c>error EB1002: model.onnx: ... . help text</c>. Names from a model can hold
    /// newlines and escape sequences, so subject and message are escaped here, once for every diagnostic.
    /// </summary>
    public string Format() => $"error {Code}: {Names.Escape(Subject.Length > 0 ? Subject : "<model>")}: {Names.Escape(Message)}. {Descriptor.Help}";

    public override string ToString() => Format();
}
