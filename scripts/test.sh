#!/usr/bin/env bash
# Runs every test of airlock-mcp: formatting and vet, the whole Go suite
# (unit, integration on real sandboxes, end to end on the built binary with
# the official MCP Go SDK client and the MCP Inspector CLI, and on the
# release's linux MCP Bundle as Claude Desktop starts it), the concurrent
# packages and the end-to-end tests again under the race detector, and the
# sandbox integration tests again as an ordinary user, so both the root and
# the rootless paths of the local backend are exercised.
#
# Usage: scripts/test.sh            (from the repository root; Linux)
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:--buildvcs=false}"
work="$(mktemp -d /tmp/airlock-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"

echo "== repository hygiene"
# No build outputs in git: a tracked file over 1 MiB is almost always one.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  large="$(git ls-files -z | xargs -0 -r stat -c '%s %n' -- 2>/dev/null | awk '$1 > 1048576 {print "  " $2 " (" $1 " bytes)"}')"
  if [ -n "$large" ]; then
    echo "tracked files over 1 MiB (build outputs belong in .gitignore):"; echo "$large"; exit 1
  fi
fi

echo "== gofmt, go vet, staticcheck"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"
if [ -n "$unformatted" ]; then
  echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
go vet ./...
# Pinned: a new staticcheck release must not turn CI red on its own.
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== build"
go build -o "$work/airlock-mcp" ./cmd/airlock-mcp
chmod 755 "$work/airlock-mcp"
export AIRLOCK_BIN="$work/airlock-mcp"

echo "== release: six binaries and an MCP Bundle each (mcpb validate, mcpb pack)"
# scripts/dist.sh cross-compiles linux, darwin and windows on amd64 and arm64,
# and validates and packs each bundle with npm's @anthropic-ai/mcpb; the
# linux bundle of this machine is then unpacked and run by TestLinuxBundle.
scripts/dist.sh "$work/dist"
export AIRLOCK_BUNDLE="$work/dist/airlock-mcp_$(cat "$work/dist/VERSION")_linux_$(go env GOARCH).mcpb"
test -f "$AIRLOCK_BUNDLE"

echo "== test dependencies"
# numpy for Debian's python3: the sandbox must keep compiled extensions with
# their own threads (OpenBLAS) working under seccomp, Landlock and the limits.
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-numpy) >/dev/null
  else
    echo "note: python3-numpy is not installed and cannot be (not root): TestNumpyUnderTheSandbox will skip"
  fi
fi
# matplotlib for Debian's python3: figures come back from the sandbox, and
# the sandbox must show matplotlib its /etc/matplotlibrc and fontconfig.
if ! /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-matplotlib) >/dev/null
  else
    echo "note: python3-matplotlib is not installed and cannot be (not root): the figure tests will skip"
  fi
fi
# A C compiler for the race detector (cgo).
if ! command -v gcc >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev) >/dev/null
fi

echo "== MCP Inspector CLI (npm)"
inspector_dir=".cache/inspector"
if [ ! -x "$inspector_dir/node_modules/.bin/mcp-inspector" ]; then
  mkdir -p "$inspector_dir"
  npm install --prefix "$inspector_dir" --no-audit --no-fund --loglevel=error @modelcontextprotocol/inspector@2.12.0 >/dev/null
fi
export AIRLOCK_INSPECTOR="$PWD/$inspector_dir/node_modules/.bin/mcp-inspector"

echo "== go test (as $(id -un))"
go test -count=1 ./...

if command -v gcc >/dev/null && [ "$(go env CGO_ENABLED)" = 1 ]; then
  echo "== race detector: the concurrent packages, then the end-to-end tests on a -race build"
  go test -race -count=1 ./server/... ./sandbox/... ./tools/
  go build -race -o "$work/airlock-mcp-race" ./cmd/airlock-mcp
  chmod 755 "$work/airlock-mcp-race"
  # The first race ends the server, which fails the test that drove it.
  GORACE=halt_on_error=1 AIRLOCK_BIN="$work/airlock-mcp-race" go test -count=1 ./cmd/airlock-mcp
else
  echo "note: no C compiler (cgo): the race detector does not run"
fi

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  echo "== sandbox integration tests as an ordinary user (uid 65534, rootless)"
  for pkg in sandbox/local server; do
    go test -c -o "$work/$(basename $pkg).test" "./$pkg"
  done
  chmod 755 "$work"/*.test
  for pkg in sandbox/local server; do
    name="$(basename $pkg)"
    (cd "$pkg" && setpriv --reuid=65534 --regid=65534 --clear-groups \
      env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp TMPDIR=/tmp \
      AIRLOCK_TEST_PYTHON=/usr/bin/python3 AIRLOCK_EXPECT_ROOTLESS=1 \
      "$work/$name.test" -test.count=1) || { echo "FAIL: $pkg as uid 65534"; exit 1; }
    echo "ok   $pkg (rootless)"
  done
fi
echo "all tests passed"
