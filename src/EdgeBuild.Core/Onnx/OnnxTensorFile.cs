using EdgeBuild.Ir;
using P = EdgeBuild.Onnx.Proto;

namespace EdgeBuild.Onnx;

/// <summary>Reads and writes single serialized TensorProto files (the input_N.pb / output_N.pb of ONNX test cases).</summary>
public static class OnnxTensorFile
{
    public static Tensor Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        P.TensorProto proto;
        try { proto = P.TensorProto.Parser.ParseFrom(bytes); }
        catch (Google.Protobuf.InvalidProtocolBufferException e)
        {
            throw new Diagnostics.EdgeBuildException(Diagnostics.DiagnosticCodes.NotOnnx, path, $"not a TensorProto ({e.Message.TrimEnd('.')})", e);
        }
        return OnnxImporter.ReadStandaloneTensor(proto, path, Path.GetDirectoryName(Path.GetFullPath(path)));
    }

    public static byte[] ToBytes(Tensor tensor, string? name = null) =>
        Google.Protobuf.MessageExtensions.ToByteArray(OnnxExporter.WriteTensor(tensor, name ?? tensor.Name));
}
