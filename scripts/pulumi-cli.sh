#!/usr/bin/env bash
# Makes a Pulumi CLI matching our Python SDK available, offline and without a Pulumi account.
#
# Prints the directory to prepend to PATH as the last line of stdout; all logs go to stderr.
# Uses `pulumi` from PATH when it is recent enough and has the Python language host;
# otherwise builds the CLI from Go sources (Go module proxy only) into a cache outside the
# repo, next to our own Python language host and dynamic provider plugin (tools/pulumi-cli).
#
# Env: PULUMI_ONCALL_CLI_CACHE  cache root (default ~/.cache/pulumi-oncall)
#      PULUMI_ONCALL_CLI_IGNORE_PATH=1  never use a `pulumi` found on PATH
set -euo pipefail

readonly VERSION=3.260.0
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly tools=$repo/tools/pulumi-cli
readonly cache=${PULUMI_ONCALL_CLI_CACHE:-$HOME/.cache/pulumi-oncall}/cli-v$VERSION
readonly bin=$cache/bin

log() { echo "pulumi-cli: $*" >&2; }

sha256() { if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi; }

# True when version $1 >= $2.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }

# An installed CLI is fine if it is at least our SDK's version and can run Python programs.
# Our own cache dir on PATH falls through, so that changed shims still get synced.
if [ "${PULUMI_ONCALL_CLI_IGNORE_PATH:-}" != 1 ] && existing=$(command -v pulumi 2>/dev/null) &&
    [ "$(dirname "$existing")" != "$bin" ]; then
    dir=$(dirname "$existing")
    have=$(PULUMI_SKIP_UPDATE_CHECK=true pulumi version 2>/dev/null | sed 's/^v//' || true)
    if [ -n "$have" ] && version_ge "$have" "$VERSION" &&
        { [ -x "$dir/pulumi-language-python" ] || command -v pulumi-language-python >/dev/null; }; then
        log "using pulumi $have from $dir"
        echo "$dir"
        exit 0
    fi
    log "ignoring pulumi ${have:-of unknown version} at $existing (need >= $VERSION with Python host)"
fi

mkdir -p "$bin"
# Concurrent test sessions must not build into the same place at once.
if command -v flock >/dev/null; then
    exec 9>"$cache/.lock"
    flock 9
fi

# Everything that determines the Go binary; the shims are cheap and always re-synced below.
ldflags="-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VERSION"
buildflags=(-trimpath -ldflags "$ldflags")
stamp=$(cat "$tools/go.mod" "$tools/go.sum" "$tools/tools.go" <(echo "${buildflags[*]} CGO_ENABLED=0") |
    sha256 | cut -d" " -f1)

if [ ! -x "$bin/pulumi" ] || [ ! -f "$bin/pulumi-language-python-exec" ] ||
    [ "$(cat "$cache/stamp" 2>/dev/null)" != "$stamp" ]; then
    if ! command -v go >/dev/null; then
        PATH=$PATH:/usr/local/go/bin
        command -v go >/dev/null || { log "Go is required to build the Pulumi CLI"; exit 1; }
    fi
    log "building pulumi v$VERSION into $bin (first time: several minutes)"
    start=$SECONDS
    (
        cd "$tools"
        export GOFLAGS=-buildvcs=false CGO_ENABLED=0
        go build "${buildflags[@]}" -o "$bin/pulumi.tmp" \
            github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
        # The official program runner ships in the SDK module we just built from.
        sdk=$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
        install -m 0755 "$sdk/python/cmd/pulumi-language-python-exec" "$bin/"
    ) >&2
    mv -f "$bin/pulumi.tmp" "$bin/pulumi"
    echo "$stamp" >"$cache/stamp"
    log "built in $((SECONDS - start))s"
fi

for shim in "$tools"/bin-shims/*; do
    [ -f "$shim" ] || continue
    name=$(basename "$shim")
    cmp -s "$shim" "$bin/$name" || install -m 0755 "$shim" "$bin/$name"
done

log "using $(PULUMI_SKIP_UPDATE_CHECK=true "$bin/pulumi" version) from $bin"
echo "$bin"
