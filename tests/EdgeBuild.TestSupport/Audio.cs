using System.Buffers.Binary;

namespace EdgeBuild.Tests.Support;

/// <summary>
/// Audio for the speech models: a reader for RIFF/WAVE files of 16-bit PCM (the alsa-utils recordings are 48 kHz mono),
/// and decimation by an integer factor through a windowed-sinc low-pass, so 48 kHz becomes the 16 kHz the models take
/// without folding 8-24 kHz back into the speech band.
/// </summary>
public static class Audio
{
    /// <summary>Samples in [-1, 1) and the sample rate of a mono 16-bit PCM WAV file.</summary>
    public static (float[] Samples, int SampleRate) ReadWav(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        if (b.Length < 12 || b.AsSpan(0, 4).SequenceEqual("RIFF"u8) is false || b.AsSpan(8, 4).SequenceEqual("WAVE"u8) is false)
            throw new InvalidDataException($"{path}: not a RIFF/WAVE file");
        int channels = 0, rate = 0, bits = 0, format = 0;
        int pos = 12;
        while (pos + 8 <= b.Length)
        {
            var id = b.AsSpan(pos, 4);
            int size = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(pos + 4, 4));
            int body = pos + 8;
            if (size < 0 || body + size > b.Length) throw new InvalidDataException($"{path}: chunk '{System.Text.Encoding.ASCII.GetString(id)}' runs past the end of the file");
            if (id.SequenceEqual("fmt "u8))
            {
                format = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body, 2));
                channels = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 2, 2));
                rate = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(body + 4, 4));
                bits = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(body + 14, 2));
            }
            else if (id.SequenceEqual("data"u8))
            {
                // WAVE_FORMAT_PCM is 1; the tests need nothing else.
                if (format != 1 || channels != 1 || bits != 16)
                    throw new InvalidDataException($"{path}: format {format}, {channels} channels, {bits} bits; expected mono 16-bit PCM (format 1) before the data chunk");
                var samples = new float[size / 2];
                for (int i = 0; i < samples.Length; i++)
                    samples[i] = BinaryPrimitives.ReadInt16LittleEndian(b.AsSpan(body + 2 * i, 2)) / 32768f;
                return (samples, rate);
            }
            pos = body + size + (size & 1); // chunks are padded to an even size
        }
        throw new InvalidDataException($"{path}: no data chunk");
    }

    /// <summary>The recording at <paramref name="targetRate"/> (its rate must be an integer multiple of it).</summary>
    public static float[] ReadWavAt(string path, int targetRate)
    {
        var (samples, rate) = ReadWav(path);
        if (rate % targetRate != 0) throw new InvalidDataException($"{path}: {rate} Hz is not a multiple of {targetRate} Hz");
        return rate == targetRate ? samples : Decimate(samples, rate / targetRate);
    }

    /// <summary>
    /// Keeps every <paramref name="factor"/>-th sample after a linear-phase low-pass: a Blackman-windowed sinc of
    /// 64 x factor + 1 taps, cut off at 0.9 of the new Nyquist frequency (7.2 kHz for 48 -> 16 kHz). The Blackman
    /// window's stop band is about -74 dB and its transition about 5.5 / taps of the input rate (1.4 kHz here), so
    /// what lies above 8 kHz is attenuated before it can alias. Zero-phase: output sample k is centred on input
    /// sample k x factor; the signal is taken as zero outside its ends.
    /// </summary>
    public static float[] Decimate(float[] x, int factor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 1);
        if (factor == 1) return (float[])x.Clone();
        int half = 32 * factor;
        double cutoff = 0.9 * 0.5 / factor; // cycles per input sample
        var h = new double[2 * half + 1];
        double sum = 0;
        for (int n = -half; n <= half; n++)
        {
            double sinc = n == 0 ? 2 * cutoff : Math.Sin(2 * Math.PI * cutoff * n) / (Math.PI * n);
            double w = 0.42 + 0.5 * Math.Cos(Math.PI * n / half) + 0.08 * Math.Cos(2 * Math.PI * n / half);
            h[n + half] = sinc * w;
            sum += h[n + half];
        }
        for (int i = 0; i < h.Length; i++) h[i] /= sum; // unit gain at DC
        var y = new float[(x.Length + factor - 1) / factor];
        for (int k = 0; k < y.Length; k++)
        {
            int centre = k * factor;
            double acc = 0;
            int lo = Math.Max(-half, -centre), hi = Math.Min(half, x.Length - 1 - centre);
            for (int n = lo; n <= hi; n++) acc += h[n + half] * x[centre + n];
            y[k] = (float)acc;
        }
        return y;
    }

    /// <summary>Root mean square of the samples.</summary>
    public static double Rms(ReadOnlySpan<float> x)
    {
        double s = 0;
        foreach (float v in x) s += (double)v * v;
        return x.Length == 0 ? 0 : Math.Sqrt(s / x.Length);
    }
}
