namespace EdgeBuild.Onnx;

/// <summary>
/// The real path of a file, every symbolic link followed component by component, as the kernel would
/// (so 'link/..' is the parent of the link's target, not the folder holding the link). .NET has no
/// realpath(3); FileSystemInfo.ResolveLinkTarget only follows the last component.
/// </summary>
internal static class RealPath
{
    /// <summary>Linux's limit on links followed in one lookup (MAXSYMLINKS); past it the path is a loop.</summary>
    private const int MaxLinks = 40;

    /// <summary>The real path of absolute <paramref name="path"/>, or null when it runs into a loop of links.</summary>
    public static string? Resolve(string path)
    {
        string root = Path.GetPathRoot(path) ?? "/";
        return Resolve(root, path[root.Length..]);
    }

    /// <summary>
    /// The real path of <paramref name="relative"/> ('/'-separated) taken from the real folder <paramref name="start"/>,
    /// or null on a loop of links. Components that do not exist are kept as written.
    /// </summary>
    public static string? Resolve(string start, string relative)
    {
        var pending = new Stack<string>();
        PushComponents(pending, relative);
        string current = start;
        int linksFollowed = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part is "" or ".") continue;
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }
            string candidate = Path.Join(current, part);
            string? target = LinkTarget(candidate);
            if (target is null)
            {
                current = candidate;
                continue;
            }
            if (++linksFollowed > MaxLinks) return null;
            if (Path.IsPathRooted(target))
            {
                string root = Path.GetPathRoot(target)!;
                current = root;
                target = target[root.Length..];
            }
            PushComponents(pending, target);
        }
        return current;
    }

    private static void PushComponents(Stack<string> pending, string path)
    {
        var parts = path.Split(['/', Path.DirectorySeparatorChar]);
        for (int i = parts.Length - 1; i >= 0; i--) pending.Push(parts[i]);
    }

    private static string? LinkTarget(string path)
    {
        try
        {
            // FileInfo reads the link itself (lstat), for links to folders as well as to files.
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
