using System.Globalization;
using System.Text;

namespace EdgeBuild.Tests.Support;

/// <summary>
/// BERT's uncased tokenizer, enough for the sentence encoder's tests: lower-case, accents stripped (NFD without
/// combining marks), split on whitespace and around punctuation, then each word split greedily into the longest
/// pieces of the vocabulary (continuations prefixed "##"); a word with no split is [UNK]. The ids are framed as
/// [CLS] ... [SEP]. Chinese characters and control characters are not treated specially: the tests' sentences
/// have none. The repository builds with invariant globalization, where string.Normalize leaves non-ASCII text as it
/// is, so the accented letters of Latin-1 are also mapped to their base letters by table.
/// </summary>
public sealed class WordPiece
{
    private const int MaxCharsPerWord = 100;
    private readonly Dictionary<string, long> ids = new(StringComparer.Ordinal);

    /// <summary>Reads a vocab.txt: one token a line, the id is the line number (CRLF or LF).</summary>
    public WordPiece(string vocabPath)
    {
        long id = 0;
        foreach (var line in File.ReadLines(vocabPath))
        {
            string token = line.TrimEnd('\r');
            if (token.Length > 0) ids.TryAdd(token, id);
            id++;
        }
        Cls = Id("[CLS]");
        Sep = Id("[SEP]");
        Unk = Id("[UNK]");
    }

    public long Cls { get; }
    public long Sep { get; }
    public long Unk { get; }
    public int VocabularySize => ids.Count;

    private long Id(string token) => ids.TryGetValue(token, out long v) ? v : throw new InvalidDataException($"the vocabulary has no {token}");

    /// <summary>[CLS] pieces of <paramref name="text"/> [SEP].</summary>
    public long[] Encode(string text)
    {
        var result = new List<long> { Cls };
        foreach (var word in BasicTokens(text)) result.AddRange(Pieces(word));
        result.Add(Sep);
        return result.ToArray();
    }

    /// <summary>The pieces of <paramref name="text"/> as strings (for messages).</summary>
    public IReadOnlyList<string> Tokens(string text)
    {
        var byId = ids.ToDictionary(p => p.Value, p => p.Key);
        return Encode(text).Select(i => byId[i]).ToList();
    }

    private static IEnumerable<string> BasicTokens(string text)
    {
        var folded = new StringBuilder();
        foreach (char c in text.ToLowerInvariant().Normalize(NormalizationForm.FormD))
        {
            if (CharUnicodeInfo.GetUnicodeCategory(c) == UnicodeCategory.NonSpacingMark) continue;
            int accented = AccentedLatin1.IndexOf(c);
            folded.Append(accented >= 0 ? BaseLatin1[accented] : c);
        }
        var word = new StringBuilder();
        foreach (char c in folded.ToString())
        {
            if (char.IsWhiteSpace(c))
            {
                if (word.Length > 0) { yield return word.ToString(); word.Clear(); }
            }
            else if (IsPunctuation(c))
            {
                if (word.Length > 0) { yield return word.ToString(); word.Clear(); }
                yield return c.ToString();
            }
            else word.Append(c);
        }
        if (word.Length > 0) yield return word.ToString();
    }

    private const string AccentedLatin1 = "àáâãäåçèéêëìíîïñòóôõöùúûüýÿ";
    private const string BaseLatin1 = "aaaaaaceeeeiiiinooooouuuuyy";

    // BERT counts every ASCII non-alphanumeric printable character as punctuation ($, ^, `, ...), and Unicode's P* classes.
    private static bool IsPunctuation(char c) =>
        c is >= '!' and <= '/' or >= ':' and <= '@' or >= '[' and <= '`' or >= '{' and <= '~' || char.IsPunctuation(c);

    private IEnumerable<long> Pieces(string word)
    {
        if (word.Length > MaxCharsPerWord) return [Unk];
        var pieces = new List<long>();
        int start = 0;
        while (start < word.Length)
        {
            long found = -1;
            int end = word.Length;
            for (; end > start; end--)
            {
                string piece = (start > 0 ? "##" : "") + word[start..end];
                if (ids.TryGetValue(piece, out found)) break;
                found = -1;
            }
            if (found < 0) return [Unk];
            pieces.Add(found);
            start = end;
        }
        return pieces;
    }

    /// <summary>
    /// A BERT encoder's three inputs for one sentence, [1, <paramref name="sequenceLength"/>] int64 each: the ids cut or
    /// zero-padded to the length, the attention mask over the real tokens, token types all 0.
    /// </summary>
    public IReadOnlyDictionary<string, EdgeBuild.Ir.Tensor> Feed(string sentence, int sequenceLength)
    {
        var ids = Encode(sentence).Take(sequenceLength).ToArray();
        var padded = new long[sequenceLength];
        var mask = new long[sequenceLength];
        for (int i = 0; i < ids.Length; i++) { padded[i] = ids[i]; mask[i] = 1; }
        return new Dictionary<string, EdgeBuild.Ir.Tensor>
        {
            ["input_ids"] = EdgeBuild.Ir.Tensor.FromInt64s([1, sequenceLength], padded),
            ["attention_mask"] = EdgeBuild.Ir.Tensor.FromInt64s([1, sequenceLength], mask),
            ["token_type_ids"] = EdgeBuild.Ir.Tensor.FromInt64s([1, sequenceLength], new long[sequenceLength]),
        };
    }

    /// <summary>A sentence embedding: the encoder's last hidden state averaged over the positions the attention mask keeps.</summary>
    public static float[] MeanPool(float[] hidden, long[] mask)
    {
        int width = hidden.Length / mask.Length;
        var sum = new double[width];
        int kept = 0;
        for (int t = 0; t < mask.Length; t++)
        {
            if (mask[t] == 0) continue;
            kept++;
            for (int k = 0; k < width; k++) sum[k] += hidden[t * width + k];
        }
        return sum.Select(v => (float)(v / Math.Max(kept, 1))).ToArray();
    }
}
