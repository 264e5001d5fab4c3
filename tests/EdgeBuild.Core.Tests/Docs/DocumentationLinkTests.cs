using System.Text.RegularExpressions;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Docs;

/// <summary>Every relative link in README.md and docs/*.md leads to a file of the repository (and, with #fragment, to a heading in it).</summary>
public sealed class DocumentationLinkTests
{
    /// <summary>Inline links and images, <c>[text](target)</c> or <c>[text](target "title")</c>, outside code.</summary>
    private static readonly Regex InlineLink = new(@"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+""[^""]*"")?\s*\)", RegexOptions.Compiled);

    /// <summary>Reference definitions, <c>[label]: target</c>.</summary>
    private static readonly Regex ReferenceDefinition = new(@"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", RegexOptions.Compiled);

    [Fact]
    public void Every_relative_link_in_the_readme_and_docs_resolves()
    {
        var pages = Directory.GetFiles(Path.Combine(TestData.RepoRoot, "docs"), "*.md").Prepend(Path.Combine(TestData.RepoRoot, "README.md")).ToList();
        var links = pages.SelectMany(RelativeLinks).ToList();
        Assert.True(links.Count >= 10, $"only {links.Count} relative links found in {pages.Count} pages: the link reader is broken");
        var broken = links.Select(l => Problem(l.Page, l.Line, l.Target)).OfType<string>().ToList();
        Assert.True(broken.Count == 0, "links that do not resolve:\n" + string.Join("\n", broken));
    }

    [Fact]
    public void The_readme_lists_every_docs_page_and_each_layout_path_once()
    {
        string readme = File.ReadAllText(Path.Combine(TestData.RepoRoot, "README.md"));
        foreach (string page in Directory.GetFiles(Path.Combine(TestData.RepoRoot, "docs"), "*.md").Select(f => Path.GetFileName(f)))
            Assert.Contains($"| [docs/{page}](docs/{page}) |", readme, StringComparison.Ordinal);

        string layout = readme[readme.IndexOf("## Layout", StringComparison.Ordinal)..];
        var paths = Regex.Matches(layout, @"^\| (`[^|]+`) \|", RegexOptions.Multiline).Select(m => m.Groups[1].Value).ToList();
        Assert.True(paths.Count >= 10, $"only {paths.Count} rows read from the README's layout table");
        Assert.Empty(paths.GroupBy(p => p).Where(g => g.Count() > 1).Select(g => g.Key));
    }

    [Fact]
    public void A_missing_file_or_heading_is_reported()
    {
        string dir = Directory.CreateTempSubdirectory("edgebuild-links-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "other.md"), "# Other page\n\n## The `Check` step, again\n");
            string page = Path.Combine(dir, "page.md");
            File.WriteAllText(page, string.Join("\n",
                "[good](other.md) [good anchor](other.md#the-check-step-again) [own](#top-heading) [web](https://example.com/x.md)",
                "# Top heading",
                "[missing](gone.md) [bad anchor](other.md#nowhere)",
                "```",
                "[in code](not-a-link.md)",
                "```",
                "`[in a code span](not-a-link-either.md)`",
                "[ref]: missing-too.md"));
            var problems = RelativeLinks(page).Select(l => Problem(l.Page, l.Line, l.Target)).OfType<string>().ToList();
            Assert.Equal(3, problems.Count);
            Assert.Contains(problems, p => p.Contains("gone.md", StringComparison.Ordinal));
            Assert.Contains(problems, p => p.Contains("other.md#nowhere", StringComparison.Ordinal));
            Assert.Contains(problems, p => p.Contains("missing-too.md", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static IEnumerable<(string Page, int Line, string Target)> RelativeLinks(string page)
    {
        bool inFence = false;
        int number = 0;
        foreach (string raw in File.ReadLines(page))
        {
            number++;
            if (raw.TrimStart().StartsWith("```", StringComparison.Ordinal)) { inFence = !inFence; continue; }
            if (inFence) continue;
            string line = Regex.Replace(raw, "`[^`]*`", "``"); // code spans hold examples, not links
            var targets = InlineLink.Matches(line).Select(m => m.Groups[1].Value);
            if (ReferenceDefinition.Match(line) is { Success: true } d) targets = targets.Append(d.Groups[1].Value);
            foreach (string target in targets)
                if (!Regex.IsMatch(target, "^[a-zA-Z][a-zA-Z0-9+.-]*:")) // http:, https:, mailto: ...
                    yield return (page, number, target);
        }
    }

    private static string? Problem(string page, int line, string target)
    {
        string where = $"{Path.GetFileName(page)}:{line}: {target}";
        int hash = target.IndexOf('#');
        string pathPart = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
        string? fragment = hash < 0 ? null : target[(hash + 1)..];
        string resolved = pathPart.Length == 0 ? page : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(page)!, pathPart));
        if (!File.Exists(resolved) && !Directory.Exists(resolved)) return $"{where} (no such file: {resolved})";
        if (fragment is null || !resolved.EndsWith(".md", StringComparison.OrdinalIgnoreCase)) return null;
        return Anchors(resolved).Contains(fragment) ? null : $"{where} (no heading #{fragment} in {Path.GetFileName(resolved)})";
    }

    /// <summary>The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as hyphens, repeats numbered.</summary>
    private static HashSet<string> Anchors(string page)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        bool inFence = false;
        foreach (string line in File.ReadLines(page))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal)) { inFence = !inFence; continue; }
            if (inFence || Regex.Match(line, @"^#{1,6}\s+(.*?)\s*#*\s*$") is not { Success: true } h) continue;
            string slug = Regex.Replace(h.Groups[1].Value.ToLowerInvariant(), @"[^\p{L}\p{Nd}\s_-]", "").Replace(' ', '-');
            int n = seen.TryGetValue(slug, out int count) ? count : 0;
            seen[slug] = n + 1;
            anchors.Add(n == 0 ? slug : $"{slug}-{n}");
        }
        return anchors;
    }
}
