#!/bin/bash
# Package and publish sizes for docs/packaging.md: packs the given projects from SRC into OUT/feed, then twice, each time
# in a new console app with its own empty NuGet packages folder, adds PACKAGES from that feed (beside nuget.org) and one
# EdgeModel (eye-state.onnx from the test data), and publishes it: once with <RuntimeIdentifier>linux-x64 set before the
# first restore, once portable (no RuntimeIdentifier). Prints each .nupkg's size and unpacked size, per app the NuGet
# packages folder's size and every ONNX Runtime library in it, the publish size, and runs the published app.
#
#   build/measure-packages.sh SRC OUT "EdgeBuild EdgeBuild.Runtime" src/EdgeBuild.MSBuild/EdgeBuild.MSBuild.csproj \
#       src/EdgeBuild.Runtime/EdgeBuild.Runtime.csproj src/EdgeBuild.Runtime.Native/EdgeBuild.Runtime.Native.csproj
#
# SRC may be another checkout (git archive of an older commit) to measure before and after a change the same way.
set -euo pipefail
SRC=$(cd "$1" && pwd); OUT=$2; ADD=$3; shift 3
MODEL=${EDGEBUILD_TESTDATA:-$SRC/.testdata-cache}/models/eye-state.onnx
[ -f "$MODEL" ] || { echo "measure-packages: ERROR: $MODEL not found: run build/fetch-testdata.sh or set EDGEBUILD_TESTDATA" >&2; exit 1; }
rm -rf "$OUT"; mkdir -p "$OUT/feed"; OUT=$(cd "$OUT" && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDDISABLENODEREUSE=1
unset NUGET_PACKAGES
# Before the split the package's pack target published the CLI without restoring it first.
for p in src/EdgeBuild.Cli src/EdgeBuild.Generator; do (cd "$SRC" && dotnet restore "$p" -v:q); done
for p in "$@"; do (cd "$SRC" && dotnet pack "$p" -c Release -o "$OUT/feed" -nodeReuse:false -v:q); done
for f in "$OUT"/feed/*.nupkg; do
  d=$OUT/unpacked/$(basename "$f" .nupkg); mkdir -p "$d"; (cd "$d" && unzip -q "$f")
  echo "NUPKG $(basename "$f") $(stat -c %s "$f") bytes, unpacked $(du -sb "$d" | cut -f1) bytes, $(find "$d" -type f | wc -l) files"
done

# measure NAME RID: one app, one empty packages folder; RID empty = portable.
measure() {
  local name=$1 rid=$2 app=$OUT/$1/app packages=$OUT/$1/packages publish=$OUT/$1/publish
  mkdir -p "$app" "$packages"; cd "$app"
  dotnet new console -n MyApp -o . >/dev/null
  cat > nuget.config <<C
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config><add key="globalPackagesFolder" value="$packages" /></config>
  <packageSources><clear /><add key="nuget.org" value="https://api.nuget.org/v3/index.json" /><add key="local" value="$OUT/feed" /></packageSources>
</configuration>
C
  [ -z "$rid" ] || sed -i "s#<OutputType>Exe</OutputType>#<OutputType>Exe</OutputType><RuntimeIdentifier>$rid</RuntimeIdentifier>#" MyApp.csproj
  for a in $ADD; do dotnet add package "$a" >/dev/null; done
  echo "NUGET $name packages folder after restore $(du -sb "$packages" | cut -f1) bytes"; du -sb "$packages"/* | sed "s#$packages/#  #"
  find "$packages" -type f \( -name 'libonnxruntime*.so' -o -name 'onnxruntime*.dll' -o -name 'libonnxruntime*.dylib' \) -printf "  ORT library in cache: %P %s bytes\n" | sort
  mkdir -p models; cp "$MODEL" models/model.onnx
  sed -i 's#</Project>#  <ItemGroup><EdgeModel Include="models/model.onnx" ClassName="EyeState" /></ItemGroup>\n</Project>#' MyApp.csproj
  printf 'using var m = MyApp.EyeState.Create();\nSystem.Console.WriteLine("loaded");\n' > Program.cs
  dotnet publish -c Release -o "$publish" -nodeReuse:false -v:q
  echo "PUBLISH $name $(du -sb "$publish" | cut -f1) bytes, $(find "$publish" -type f | wc -l) files"
  echo "NUGET $name packages folder after publish $(du -sb "$packages" | cut -f1) bytes"
  dotnet "$publish/MyApp.dll"
}
measure linux-x64 linux-x64
measure portable ""
