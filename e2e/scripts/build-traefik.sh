#!/usr/bin/env bash
# Build Traefik v3 (the e2e Gateway API implementation, issue 7) from the Go module
# proxy, using the tools module in e2e/tools/traefik, into a cache outside the repo
# keyed by its version:
#
#   ${KAOS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaos-e2e}/traefik-<version>/bin/traefik
#
# `go install github.com/traefik/traefik/v3/cmd/traefik@<v>` refuses because Traefik's
# go.mod has replace directives; the tools module repeats them. The module zip has no
# web UI build (webui/static comes from a yarn build), so the build uses a copy of the
# module source with a one-page placeholder there (the dashboard is not used).
# Idempotent: a present binary is reused. Built under a temporary name and renamed
# atomically, so an interrupted build never leaves a half binary.
#
# Progress goes to stderr; the last line on stdout is the binary path.
#
# Usage: build-traefik.sh [--print-path | --help]
#   --print-path  print the binary path without building anything
# Env:  KAOS_E2E_CACHE  cache root override
#       BUILD_TOOLS_P   go build -p value (default: number of CPUs, max 4)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod_dir="$(cd "$here/../tools/traefik" && pwd)"
module=github.com/traefik/traefik/v3

# The version comes from the tools module's go.mod (single source of truth).
version="$(awk -v m="$module" '$1 == m && $2 ~ /^v/ { print $2; exit }
  $1 == "require" && $2 == m && $3 ~ /^v/ { print $3; exit }' "$mod_dir/go.mod")"
[[ -n "$version" ]] || { echo "build-traefik: cannot read the $module version from $mod_dir/go.mod" >&2; exit 1; }

cache_root="${KAOS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaos-e2e}"
bin_dir="$cache_root/traefik-$version/bin"
out="$bin_dir/traefik"

case "${1:-}" in
  --print-path) echo "$out"; exit 0 ;;
  -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "build-traefik: unknown argument: $1" >&2; exit 2 ;;
esac

log() { printf '[build-traefik] %s\n' "$*" >&2; }

if [[ -x "$out" ]]; then log "traefik $version: cached ($out)"; echo "$out"; exit 0; fi
command -v go >/dev/null || { log "go not found on PATH (Go >= 1.26 is required)"; exit 1; }

mkdir -p "$bin_dir"
# One Go build at a time on the cache (shared with build-tools.sh): on 2 cores two
# concurrent builds only compete for CPU and memory.
if command -v flock >/dev/null; then
  exec 9>"$cache_root/.build.lock"
  if ! flock -n 9; then
    log "another build is running; waiting for $cache_root/.build.lock"
    flock 9
  fi
fi
if [[ -x "$out" ]]; then log "traefik $version: built meanwhile by another run"; echo "$out"; exit 0; fi

ncpu="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
par="${BUILD_TOOLS_P:-$(( ncpu > 4 ? 4 : ncpu ))}"
export CGO_ENABLED=0
# Keep the machine's GOFLAGS/GOPROXY; never let the build rewrite the committed go.mod.
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

now() { date +%s; }
t0=$(now)
log "traefik $version (go $(go env GOVERSION), -p $par) -> $out"
log "resolving $module@$version (the first build downloads its dependencies too) ..."
(cd "$mod_dir" && go mod download "$module") >&2
src="$(cd "$mod_dir" && go list -m -f '{{.Dir}}' "$module")"
# The release's commit time (stable across rebuilds) as the build date.
build_date="$(cd "$mod_dir" && go list -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' "$module")"
build_date="${build_date:-1970-01-01T00:00:00Z}"
log "source: $src"

work="$(mktemp -d "$bin_dir/.work.XXXXXX")"
tmp="$bin_dir/.traefik.tmp.$$"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work" "$tmp"' EXIT
# webui/embed.go embeds webui/static, which the module zip lacks (a yarn build makes it),
# and `go build -overlay` may not add files under GOMODCACHE: build a writable copy of
# the module with a placeholder page, swapped in by a temporary -modfile so that the
# committed go.mod/go.sum still decide every dependency version.
cp -R "$src" "$work/traefik"
chmod -R u+w "$work/traefik"
mkdir -p "$work/traefik/webui/static"
printf '<!doctype html><title>Traefik</title><p>Web UI not built (e2e build).</p>\n' >"$work/traefik/webui/static/index.html"
cp "$mod_dir/go.mod" "$work/go.mod"
cp "$mod_dir/go.sum" "$work/go.sum"
printf '\nreplace %s => %s\n' "$module" "$work/traefik" >>"$work/go.mod"

pkg="$module/cmd/traefik"
ldflags="-s -w -X $module/pkg/version.Version=$version -X $module/pkg/version.BuildDate=$build_date"
log "building $pkg ..."
t1=$(now)
if (cd "$mod_dir" && go build -p "$par" -trimpath -modfile "$work/go.mod" -ldflags "$ldflags" -o "$tmp" "$pkg"); then
  mv -f "$tmp" "$out"
  log "traefik: built in $(( $(now) - t1 ))s, total $(( $(now) - t0 ))s ($(du -h "$out" | cut -f1))"
else
  log "traefik: BUILD FAILED after $(( $(now) - t1 ))s"
  exit 1
fi
echo "$out"
