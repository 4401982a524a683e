#!/usr/bin/env bash
# Build the local control-plane and node binaries (kube-apiserver, kube-controller-manager,
# kubectl, kube-scheduler, kubelet, kube-proxy, etcd, helm) from the Go module proxy, using the tools module in
# e2e/tools, into a cache outside the repo keyed by their versions:
#
#   ${KAOS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaos-e2e}/<key>/bin
#
# and extract the Gateway API CRD bundles to <cache>/gateway-api/<version>/<channel>.yaml.
# Idempotent: anything already present is reused. Binaries are built under a temporary
# name and renamed atomically, so an interrupted build never leaves a half binary.
#
# Progress goes to stderr; the last line on stdout is the bin dir.
#
# Usage: build-tools.sh [--print-bin-dir | --print-cache-dir | --help]
#   --print-bin-dir    print the bin dir without building anything
#   --print-cache-dir  print the cache root without building anything
# Env:  KAOS_E2E_CACHE  cache root override
#       BUILD_TOOLS_P   go build -p value (default: number of CPUs, max 4)
#       GATEWAY_API_BUNDLES  space-separated <version>:<channel> list
#                            (default "v1.3.0:experimental v1.6.3:standard")
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools_dir="$(cd "$here/../tools" && pwd)"

# Versions come from the tools module's go.mod (single source of truth).
modver() { awk -v m="$1" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$tools_dir/go.mod"; }
k8s_version="$(modver k8s.io/kubernetes)"
etcd_version="$(modver go.etcd.io/etcd/server/v3)"
helm_version="$(modver helm.sh/helm/v3)"
for v in k8s_version etcd_version helm_version; do
  [[ -n "${!v}" ]] || { echo "build-tools: cannot read $v from $tools_dir/go.mod" >&2; exit 1; }
done

cache_root="${KAOS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaos-e2e}"
key="k8s-${k8s_version}_etcd-${etcd_version}_helm-${helm_version}"
bin_dir="$cache_root/$key/bin"

case "${1:-}" in
  --print-bin-dir) echo "$bin_dir"; exit 0 ;;
  --print-cache-dir) echo "$cache_root"; exit 0 ;;
  -h|--help) sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  "") ;;
  *) echo "build-tools: unknown argument: $1" >&2; exit 2 ;;
esac

log() { printf '[build-tools] %s\n' "$*" >&2; }
command -v go >/dev/null || { log "go not found on PATH (Go >= 1.26 is required)"; exit 1; }

mkdir -p "$bin_dir"
# Serialize concurrent runs (parallel test workers, CI + dev shell) on the same cache.
if command -v flock >/dev/null; then
  exec 9>"$cache_root/.build.lock"
  if ! flock -n 9; then
    log "another build is running; waiting for $cache_root/.build.lock"
    flock 9
  fi
fi

ncpu="$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2)"
par="${BUILD_TOOLS_P:-$(( ncpu > 4 ? 4 : ncpu ))}"
export CGO_ENABLED=0
# Keep the machine's GOFLAGS/GOPROXY; never let the build rewrite the committed go.mod.
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

# k8s version ldflags (see kubernetes hack/lib/version.sh).
k8s_major="${k8s_version#v}"; k8s_major="${k8s_major%%.*}"
k8s_minor="${k8s_version#v*.}"; k8s_minor="${k8s_minor%%.*}"
# `go mod download -json mod@ver` outside any module (never touches go.mod); prints JSON.
moddl() { (cd / && GOFLAGS= GO111MODULE=on go mod download -json "$1"); }
info_time() { # commit time of a module version from the module cache .info (stable build date)
  moddl "$1@$2" 2>/dev/null \
    | sed -n 's/.*"Info": "\(.*\)".*/\1/p' | xargs -r cat 2>/dev/null \
    | sed -n 's/.*"Time":"\([^"]*\)".*/\1/p'
}
k8s_date="$(info_time k8s.io/kubernetes "$k8s_version")"; k8s_date="${k8s_date:-1970-01-01T00:00:00Z}"
k8s_ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=$k8s_major -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$k8s_date"
done
helm_ldflags="-X helm.sh/helm/v3/internal/version.version=$helm_version -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
helm_ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$k8s_major -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
helm_ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$k8s_major -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
etcd_ldflags="-X go.etcd.io/etcd/api/v3/version.GitSHA=${etcd_version}"

# name|package|extra ldflags  (apiserver first: it compiles most of the shared packages)
targets=(
  "kube-apiserver|k8s.io/kubernetes/cmd/kube-apiserver|$k8s_ldflags"
  "kube-controller-manager|k8s.io/kubernetes/cmd/kube-controller-manager|$k8s_ldflags"
  "kubectl|k8s.io/kubernetes/cmd/kubectl|$k8s_ldflags"
  "kube-scheduler|k8s.io/kubernetes/cmd/kube-scheduler|$k8s_ldflags"
  "kubelet|k8s.io/kubernetes/cmd/kubelet|$k8s_ldflags"
  "kube-proxy|k8s.io/kubernetes/cmd/kube-proxy|$k8s_ldflags"
  "etcd|go.etcd.io/etcd/server/v3|$etcd_ldflags"
  "helm|helm.sh/helm/v3/cmd/helm|$helm_ldflags"
)

now() { date +%s; }
t_all=$(now); built=0; failed=()
log "versions: kubernetes $k8s_version, etcd $etcd_version, helm $helm_version (go $(go env GOVERSION), -p $par)"
log "bin dir: $bin_dir"
for t in "${targets[@]}"; do
  IFS='|' read -r name pkg ldf <<<"$t"
  out="$bin_dir/$name"
  if [[ -x "$out" ]]; then log "$name: cached"; continue; fi
  tmp="$bin_dir/.$name.tmp.$$"
  log "$name: building $pkg ..."
  t0=$(now)
  if (cd "$tools_dir" && go build -p "$par" -trimpath -ldflags "-s -w $ldf" -o "$tmp" "$pkg"); then
    mv -f "$tmp" "$out"
    log "$name: built in $(( $(now) - t0 ))s ($(du -h "$out" | cut -f1))"
    built=$((built + 1))
  else
    rm -f "$tmp"
    log "$name: BUILD FAILED after $(( $(now) - t0 ))s"
    failed+=("$name")
  fi
done
log "binaries: $built built, ${#failed[@]} failed, total $(( $(now) - t_all ))s"

# Gateway API CRD bundles, straight from the sigs.k8s.io/gateway-api module.
bundles="${GATEWAY_API_BUNDLES:-v1.3.0:experimental v1.6.3:standard}"
for b in $bundles; do
  ver="${b%%:*}"; channel="${b#*:}"
  dest="$cache_root/gateway-api/$ver/$channel.yaml"
  if [[ -s "$dest" ]]; then log "gateway-api $ver $channel: cached"; continue; fi
  dir="$(moddl "sigs.k8s.io/gateway-api@$ver" \
    | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  src="$dir/config/crd/$channel"
  if [[ -z "$dir" || ! -d "$src" ]]; then
    log "gateway-api $ver: no $channel CRDs found (dir: ${dir:-<download failed>})"
    failed+=("gateway-api-$ver-$channel"); continue
  fi
  mkdir -p "$(dirname "$dest")"
  tmp="$dest.tmp.$$"
  : >"$tmp"
  n=0
  for f in "$src"/*.yaml; do
    [[ "$(basename "$f")" == kustomization.yaml ]] && continue
    { echo "---"; echo "# Source: sigs.k8s.io/gateway-api@$ver config/crd/$channel/$(basename "$f")"; cat "$f"; echo; } >>"$tmp"
    n=$((n + 1))
  done
  mv -f "$tmp" "$dest"
  log "gateway-api $ver $channel: $n files -> $dest"
done

log "cache size: $(du -sh "$cache_root" | cut -f1) ($cache_root)"
if (( ${#failed[@]} )); then log "FAILED: ${failed[*]}"; echo "$bin_dir"; exit 1; fi
echo "$bin_dir"
