namespace EdgeBuild.Tests.Support;

/// <summary>
/// Everyday English sentences built from templates (subject, verb, object), for calibrating and judging text encoders
/// without a corpus file: 56 of them, the same every run.
/// </summary>
public static class TemplateSentences
{
    public static IEnumerable<string> All()
    {
        string[] subjects = ["A man", "The woman", "A child", "My neighbour", "The driver", "A student", "The old dog", "Our team"];
        string[] verbs = ["is eating", "was reading", "will paint", "found", "is carrying", "has repaired", "watched"];
        string[] objects = ["a piece of bread.", "the morning newspaper.", "a red bicycle in the garage.", "an old wooden door.", "the broken window yesterday.", "a bowl of soup.", "the train to the city.", "a letter from home."];
        int i = 0;
        foreach (var s in subjects)
            foreach (var v in verbs)
                yield return $"{s} {v} {objects[i++ % objects.Length]}";
    }
}
