#!/bin/bash
# Package and publish sizes for docs/packaging.md: packs the given projects from SRC into OUT/feed, then in a new console
# app with an empty NuGet packages folder adds PACKAGES from that feed (beside nuget.org), one EdgeModel (eye-state.onnx
# from the test data), and publishes it for linux-x64 and portable. Prints each .nupkg's size and unpacked size, both
# publish sizes and the NuGet packages folder's size, and runs the published app.
#
#   build/measure-packages.sh SRC OUT "EdgeBuild EdgeBuild.Runtime" src/EdgeBuild.MSBuild/EdgeBuild.MSBuild.csproj src/EdgeBuild.Runtime/EdgeBuild.Runtime.csproj
#
# SRC may be another checkout (git archive of an older commit) to measure before and after a change the same way.
set -euo pipefail
SRC=$(cd "$1" && pwd); OUT=$2; ADD=$3; shift 3
MODEL=${EDGEBUILD_TESTDATA:-$SRC/.testdata-cache}/models/eye-state.onnx
[ -f "$MODEL" ] || { echo "measure-packages: ERROR: $MODEL not found: run build/fetch-testdata.sh or set EDGEBUILD_TESTDATA" >&2; exit 1; }
rm -rf "$OUT"; mkdir -p "$OUT/feed" "$OUT/packages" "$OUT/app"; OUT=$(cd "$OUT" && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 MSBUILDDISABLENODEREUSE=1
unset NUGET_PACKAGES
# Before the split the package's pack target published the CLI without restoring it first.
for p in src/EdgeBuild.Cli src/EdgeBuild.Generator; do (cd "$SRC" && dotnet restore "$p" -v:q); done
for p in "$@"; do (cd "$SRC" && dotnet pack "$p" -c Release -o "$OUT/feed" -nodeReuse:false -v:q); done
for f in "$OUT"/feed/*.nupkg; do
  d=$OUT/unpacked/$(basename "$f" .nupkg); mkdir -p "$d"; (cd "$d" && unzip -q "$f")
  echo "NUPKG $(basename "$f") $(stat -c %s "$f") bytes, unpacked $(du -sb "$d" | cut -f1) bytes, $(find "$d" -type f | wc -l) files"
done
cd "$OUT/app"
dotnet new console -n MyApp -o . >/dev/null
cat > nuget.config <<X
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <config><add key="globalPackagesFolder" value="$OUT/packages" /></config>
  <packageSources><clear /><add key="nuget.org" value="https://api.nuget.org/v3/index.json" /><add key="local" value="$OUT/feed" /></packageSources>
</configuration>
X
for a in $ADD; do dotnet add package "$a" >/dev/null; done
mkdir -p models; cp "$MODEL" models/model.onnx
sed -i 's#</Project>#  <ItemGroup><EdgeModel Include="models/model.onnx" ClassName="EyeState" /></ItemGroup>\n</Project>#' MyApp.csproj
printf 'using var m = MyApp.EyeState.Create();\nSystem.Console.WriteLine("loaded");\n' > Program.cs
dotnet publish -r linux-x64 -c Release -o "$OUT/publish" -nodeReuse:false -v:q
echo "PUBLISH linux-x64 $(du -sb "$OUT/publish" | cut -f1) bytes, $(find "$OUT/publish" -type f | wc -l) files"
dotnet publish -c Release -o "$OUT/publish-portable" -nodeReuse:false -v:q
echo "PUBLISH portable $(du -sb "$OUT/publish-portable" | cut -f1) bytes, $(find "$OUT/publish-portable" -type f | wc -l) files"
echo "NUGET packages folder $(du -sb "$OUT/packages" | cut -f1) bytes"; du -sb "$OUT"/packages/*
"$OUT/publish/MyApp"
