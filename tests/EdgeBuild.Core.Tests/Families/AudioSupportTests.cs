using System.Buffers.Binary;
using EdgeBuild.Tests.Support;

namespace EdgeBuild.Tests.Families;

/// <summary>The audio helpers the speech-model checks rely on: the WAV reader and the 48 -> 16 kHz decimator.</summary>
public class AudioSupportTests
{
    [Theory]
    [InlineData(1000, 0.99, 1.01)]   // in the speech band: passed at unit gain
    [InlineData(6000, 0.98, 1.02)]   // near the top of the pass band (cut off at 7.2 kHz)
    [InlineData(12000, 0, 1e-3)]     // above the new Nyquist frequency: would alias to 4 kHz, must be gone (< -60 dB)
    [InlineData(20000, 0, 1e-3)]
    public void DecimationKeepsTheSpeechBandAndRemovesWhatWouldAlias(double hertz, double minGain, double maxGain)
    {
        const int rate = 48000;
        var tone = Enumerable.Range(0, rate).Select(i => (float)Math.Sin(2 * Math.PI * hertz * i / rate)).ToArray();
        var y = Audio.Decimate(tone, 3);
        Assert.Equal(rate / 3, y.Length);
        // Amplitude away from the ends (the filter sees zeros beyond them): RMS x sqrt(2).
        double gain = Audio.Rms(y.AsSpan(1000, y.Length - 2000)) * Math.Sqrt(2);
        Assert.InRange(gain, minGain, maxGain);
    }

    [Fact]
    public void ReadsMono16BitPcmAndRejectsOtherFormats()
    {
        string dir = Directory.CreateTempSubdirectory("edgebuild-wav-").FullName;
        try
        {
            string mono = Path.Combine(dir, "mono.wav");
            File.WriteAllBytes(mono, Wav(channels: 1, bits: 16, [0, 16384, -32768, 32767]));
            var (samples, sampleRate) = Audio.ReadWav(mono);
            Assert.Equal(48000, sampleRate);
            Assert.Equal([0f, 0.5f, -1f, 32767f / 32768f], samples);

            string stereo = Path.Combine(dir, "stereo.wav");
            File.WriteAllBytes(stereo, Wav(channels: 2, bits: 16, [0, 0]));
            var e = Assert.Throws<InvalidDataException>(() => Audio.ReadWav(stereo));
            Assert.Contains("2 channels", e.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    /// <summary>A RIFF/WAVE file at 48 kHz with a LIST chunk before fmt (as some writers put it) and the samples given.</summary>
    private static byte[] Wav(int channels, int bits, short[] samples)
    {
        var data = new byte[samples.Length * 2];
        for (int i = 0; i < samples.Length; i++) BinaryPrimitives.WriteInt16LittleEndian(data.AsSpan(2 * i), samples[i]);
        using var m = new MemoryStream();
        using var w = new BinaryWriter(m);
        w.Write("RIFF"u8); w.Write(0); w.Write("WAVE"u8);
        w.Write("LIST"u8); w.Write(3); w.Write("abc\0"u8); // an odd size, padded to even
        w.Write("fmt "u8); w.Write(16); w.Write((short)1); w.Write((short)channels); w.Write(48000); w.Write(48000 * channels * bits / 8); w.Write((short)(channels * bits / 8)); w.Write((short)bits);
        w.Write("data"u8); w.Write(data.Length); w.Write(data);
        w.Flush();
        var bytes = m.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4), bytes.Length - 8);
        return bytes;
    }
}
