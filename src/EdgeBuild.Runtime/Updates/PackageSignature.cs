using System.Security.Cryptography;
using System.Security.Cryptography.Cose;

namespace EdgeBuild.Runtime.Updates;

/// <summary>
/// The package signature: a COSE_Sign1 message (RFC 9052) with a detached payload, the exact bytes of
/// <c>package.json</c>, signed ES256 (ECDSA P-256, SHA-256), its protected header naming the key (<c>kid</c>).
/// Detached so package.json stays readable in the archive and is signed byte for byte, not re-encoded.
/// </summary>
public static class PackageSignature
{
    /// <summary>COSE content type of the signed payload.</summary>
    public const string ContentType = "application/vnd.edgebuild.package+json";

    /// <summary>COSE content type of a signed channel file's payload (embedded: the channel's own JSON).</summary>
    public const string ChannelContentType = "application/vnd.edgebuild.channel+json";

    /// <summary>Signs <paramref name="payload"/> with a P-256 key.</summary>
    public static byte[] Sign(byte[] payload, ECDsa key) => CoseSign1Message.SignDetached(payload, Signer(key, ContentType));

    /// <summary>Signs a channel file's JSON, embedded in the message (the channel file carries the message whole).</summary>
    public static byte[] SignChannel(byte[] payload, ECDsa key) => CoseSign1Message.SignEmbedded(payload, Signer(key, ChannelContentType));

    private static CoseSigner Signer(ECDsa key, string contentType)
    {
        RequireP256(key);
        var headers = new CoseHeaderMap
        {
            { CoseHeaderLabel.KeyIdentifier, CoseHeaderValue.FromBytes(KeyId(key)) },
            { CoseHeaderLabel.ContentType, CoseHeaderValue.FromString(contentType) },
        };
        // The algorithm header (ES256) is added by CoseSigner itself, into the protected headers.
        return new CoseSigner(key, HashAlgorithmName.SHA256, headers);
    }

    /// <summary>Checks that <paramref name="signature"/> signs <paramref name="payload"/> under one of <paramref name="trustedKeys"/>.</summary>
    /// <returns>The key id (hex) of the key that verified it.</returns>
    /// <exception cref="ModelUpdateException"><see cref="UpdateFailure.BadSignature"/> or <see cref="UpdateFailure.UntrustedKey"/>.</exception>
    public static string Verify(byte[] signature, byte[] payload, IReadOnlyList<ECDsa> trustedKeys)
    {
        ArgumentNullException.ThrowIfNull(payload);
        var message = Decode(signature, trustedKeys, "package");
        if (message.Content is not null)
            throw new ModelUpdateException(UpdateFailure.BadSignature, "the signature carries an embedded payload; EdgeBuild packages sign package.json detached");
        return VerifyWith(message, trustedKeys, "package", "package.json was changed after signing, or the signature is damaged", key => message.VerifyDetached(key, payload));
    }

    /// <summary>Checks a signed channel file's message and returns the channel JSON it carries.</summary>
    /// <exception cref="ModelUpdateException"><see cref="UpdateFailure.BadSignature"/> or <see cref="UpdateFailure.UntrustedKey"/>.</exception>
    public static (byte[] Payload, string SignedBy) VerifyChannel(byte[] signature, IReadOnlyList<ECDsa> trustedKeys)
    {
        var message = Decode(signature, trustedKeys, "channel");
        // A package's detached signature, or any other COSE message the publisher signed, must not pass for a channel.
        if (message.Content is not { } content
            || !message.ProtectedHeaders.TryGetValue(CoseHeaderLabel.ContentType, out var type) || type.GetValueAsString() != ChannelContentType)
            throw new ModelUpdateException(UpdateFailure.BadSignature, $"the channel signature does not carry a channel ({ChannelContentType}, payload embedded)");
        string kid = VerifyWith(message, trustedKeys, "channel", "the channel file was changed after signing", key => message.VerifyEmbedded(key));
        return (content.ToArray(), kid);
    }

    private static CoseSign1Message Decode(byte[] signature, IReadOnlyList<ECDsa> trustedKeys, string what)
    {
        ArgumentNullException.ThrowIfNull(trustedKeys);
        if (trustedKeys.Count == 0) throw new ModelUpdateException(UpdateFailure.UntrustedKey, "no trusted key is configured: pin the publisher's public key");
        CoseSign1Message message;
        try
        {
            message = CoseMessage.DecodeSign1(signature);
        }
        catch (CryptographicException e)
        {
            throw new ModelUpdateException(UpdateFailure.BadSignature, $"the {what} signature is not a COSE_Sign1 message ({e.Message})", e);
        }
        // Only ES256 is accepted: a message must not choose a weaker algorithm for itself.
        if (!message.ProtectedHeaders.TryGetValue(CoseHeaderLabel.Algorithm, out var alg) || alg.GetValueAsInt32() != -7)
            throw new ModelUpdateException(UpdateFailure.BadSignature, $"the {what} signature is not ES256 (COSE algorithm -7) in its protected header");
        return message;
    }

    private static string VerifyWith(CoseSign1Message message, IReadOnlyList<ECDsa> trustedKeys, string what, string changed, Func<ECDsa, bool> verify)
    {
        string? kid = message.ProtectedHeaders.TryGetValue(CoseHeaderLabel.KeyIdentifier, out var k) ? Convert.ToHexString(k.GetValueAsBytes()).ToLowerInvariant() : null;
        var candidates = trustedKeys.Where(key => kid is null || KeyIdHex(key) == kid).ToList();
        if (candidates.Count == 0)
            throw new ModelUpdateException(UpdateFailure.UntrustedKey,
                $"the {what} is signed by key {kid}, which is not among the trusted keys ({string.Join(", ", trustedKeys.Select(KeyIdHex))})");
        foreach (var key in candidates)
        {
            try
            {
                if (verify(key)) return KeyIdHex(key);
            }
            catch (CryptographicException) { }
        }
        throw new ModelUpdateException(UpdateFailure.BadSignature, $"the signature by key {kid ?? "(none named)"} does not verify: {changed}");
    }

    /// <summary>A key's id: the first 16 bytes of the sha256 of its SubjectPublicKeyInfo (the same for the private and public half).</summary>
    public static byte[] KeyId(ECDsa key) => SHA256.HashData(key.ExportSubjectPublicKeyInfo())[..16];

    /// <summary><see cref="KeyId"/> as lower-case hex.</summary>
    public static string KeyIdHex(ECDsa key) => Convert.ToHexString(KeyId(key)).ToLowerInvariant();

    /// <summary>Reads a PEM public key (SubjectPublicKeyInfo) or private key (PKCS#8, SEC1); it must be P-256.</summary>
    /// <exception cref="ArgumentException">Not a PEM EC key, or not on P-256.</exception>
    public static ECDsa ReadKey(string pem)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
        }
        catch (Exception e) when (e is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new ArgumentException($"not a PEM EC key ({e.Message})", nameof(pem), e);
        }
        RequireP256(key);
        return key;
    }

    private static void RequireP256(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.KeySize != 256 || key.ExportParameters(false).Curve.Oid?.Value != ECCurve.NamedCurves.nistP256.Oid.Value)
            throw new ArgumentException("the key is not an ECDSA P-256 key (ES256 needs P-256)", nameof(key));
    }
}
