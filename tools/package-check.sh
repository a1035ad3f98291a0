#!/usr/bin/env bash
# Packs the engine as a user takes it and runs the README's embedding program against the packages: `dotnet pack`
# into a folder feed, a fresh console app outside this repository, `dotnet add package Hunyuan.Vk` from that feed, the
# README's Program.cs (the C# block after "<!-- package-check: Program.cs -->"), run on a tiny random model made by
# hyvk. Exit 0 when the program runs and prints; anything else fails with what went wrong.
# Usage: tools/package-check.sh [WORKDIR]   (default: a new temporary directory, removed at the end)
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d)}"
[[ $# -ge 1 ]] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
# A package cache of its own: a package of the same version packed earlier must not stand in for this one.
export NUGET_PACKAGES="$work/packages"

echo "package-check: packing into $work/feed"
dotnet pack "$repo/Hunyuan.Vk.sln" -c Release -o "$work/feed" --nologo -v quiet >"$work/pack.log" 2>&1 \
    || { cat "$work/pack.log"; echo "package-check: dotnet pack failed"; exit 1; }
for id in Hunyuan.Vk Hunyuan.Vk.Vulkan Hunyuan.Vk.Reference Hunyuan.Vk.Server; do
    ls "$work/feed/$id".[0-9]*.nupkg "$work/feed/$id".[0-9]*.snupkg >/dev/null \
        || { echo "package-check: $id was not packed with its symbols"; exit 1; }
done

# Untied: a random model with a tied head repeats the prompt's last token, a special one, and prints nothing.
echo "package-check: a tiny random model"
dotnet "$repo/src/Hunyuan.Vk.Cli/bin/Release/net10.0/hyvk.dll" make-model --out "$work/model" --preset tiny --untied-lm-head >/dev/null 2>&1 \
    || dotnet run --project "$repo/src/Hunyuan.Vk.Cli" -c Release -- make-model --out "$work/model" --preset tiny --untied-lm-head

echo "package-check: a console app from the README"
app="$work/app"
mkdir -p "$app"
cat >"$app/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="local" value="$work/feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
CONFIG
cat >"$app/App.csproj" <<PROJECT
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
</Project>
PROJECT
awk '/<!-- package-check: Program.cs -->/ { found = 1; next }
     found && /^```csharp/ { inside = 1; next }
     inside && /^```/ { exit }
     inside { print }' "$repo/README.md" >"$app/Program.cs"
[[ -s "$app/Program.cs" ]] || { echo "package-check: no Program.cs block in README.md"; exit 1; }
(cd "$app" && dotnet add package Hunyuan.Vk --version "$(ls "$work/feed" | sed -nE 's/^Hunyuan\.Vk\.([0-9][^a-z]*)\.nupkg$/\1/p' | head -1)" >"$work/add.log" 2>&1) \
    || { cat "$work/add.log"; echo "package-check: dotnet add package Hunyuan.Vk failed"; exit 1; }

echo "package-check: running it"
(cd "$app" && dotnet run -c Release -- "$work/model") >"$work/run.out" 2>"$work/run.err" \
    || { cat "$work/run.err"; echo "package-check: the README's program failed"; exit 1; }
(($(wc -c <"$work/run.out") > 1)) || { cat "$work/run.err"; echo "package-check: the program printed no reply"; exit 1; }
echo "package-check: ok ($(wc -c <"$work/run.out") bytes of reply)"
