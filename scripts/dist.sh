#!/usr/bin/env bash
# Builds a release of airlock-mcp into OUTDIR (default dist/): the binary for
# linux, darwin and windows on amd64 and arm64, with the version stamped from
# git (so `airlock-mcp version` and the MCP serverInfo say which build it is),
# and one MCP Bundle (.mcpb) per platform for Claude Desktop, from
# scripts/mcpb/manifest.json.in, validated and packed with npm's
# @anthropic-ai/mcpb (installed into .cache/mcpb on first use).
#
# Usage: scripts/dist.sh [OUTDIR]     (from anywhere; needs Go, git and npm)
#
# Output: OUTDIR/airlock-mcp_VERSION_OS_ARCH[.exe], OUTDIR/airlock-mcp_VERSION_OS_ARCH.mcpb,
# OUTDIR/VERSION (the version), and the unpacked bundles under OUTDIR/bundle/OS_ARCH/.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-dist}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# The version: the tag (v1.2.3 gives 1.2.3; commits after it and local
# changes are named too), else 0.0.0-g<commit>, a semantic version as the
# bundle manifest needs.
describe="$(git describe --tags --match 'v[0-9]*' --always --dirty --abbrev=12 2>/dev/null || echo unknown)"
case "$describe" in
  v[0-9]*) version="${describe#v}" ;;
  *) version="0.0.0-g${describe}" ;;
esac
echo "$version" >"$out/VERSION"
echo "== airlock-mcp $version"

mcpb_dir=".cache/mcpb"
mcpb="$PWD/$mcpb_dir/node_modules/.bin/mcpb"
if [ ! -x "$mcpb" ]; then
  mkdir -p "$mcpb_dir"
  npm install --prefix "$mcpb_dir" --no-audit --no-fund --loglevel=error @anthropic-ai/mcpb@2.1.2 >/dev/null
fi

for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
  os="${target%/*}" arch="${target#*/}"
  ext="" platform="$os" backend=local
  case "$os" in
    windows) ext=".exe" platform=win32 backend=modal ;;
    darwin) backend=modal ;;
  esac
  name="airlock-mcp_${version}_${os}_${arch}"
  echo "== $os/$arch"
  # Static, reproducible: no cgo, no local paths in the binary.
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath -buildvcs=false \
    -ldflags "-s -w -X main.version=$version" -o "$out/$name$ext" ./cmd/airlock-mcp

  bundle="$out/bundle/${os}_${arch}"
  rm -rf "$bundle"
  mkdir -p "$bundle/server"
  cp "$out/$name$ext" "$bundle/server/airlock-mcp$ext"
  chmod 755 "$bundle/server/airlock-mcp$ext"
  sed -e "s|@VERSION@|$version|g" -e "s|@ENTRY@|server/airlock-mcp$ext|g" \
    -e "s|@PLATFORM@|$platform|g" -e "s|@BACKEND@|$backend|g" \
    scripts/mcpb/manifest.json.in >"$bundle/manifest.json"
  "$mcpb" validate "$bundle/manifest.json" >/dev/null
  "$mcpb" pack "$bundle" "$out/$name.mcpb" >/dev/null
done
echo "== built in $out:"
(cd "$out" && ls -1 airlock-mcp_*)
