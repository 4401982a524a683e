#!/usr/bin/env bash
# Installs the Debian packages the local node and the image build need (see docs/helm.md,
# "Production mode on a local node"): containerd and runc run the pods, the CNI plugins wire them
# to a bridge, iptables/conntrack serve kube-proxy, buildah/debootstrap/skopeo/umoci build images
# without a daemon or a registry; faketime (libfaketime) runs a controller replica with its clock
# offset in e2e/src/leader-election.e2e.test.ts. Does nothing when all are present; needs root and apt.
set -euo pipefail
packages=(containerd runc containernetworking-plugins iptables nftables conntrack iproute2 buildah debootstrap skopeo umoci faketime)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if (( ${#missing[@]} == 0 )); then
  echo "install-node-packages: all present (${packages[*]})" >&2
  exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
  echo "install-node-packages: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "install-node-packages: installing ${missing[*]}" >&2
start=$(date +%s)
# On a host with systemd, installing containerd would enable and start a system containerd; the
# node runs its own, with its own configuration. policy-rc.d (exit 101) tells the package scripts
# not to start services; one that is already there is left alone.
policy=/usr/sbin/policy-rc.d
own_policy=false
if [[ ! -e "$policy" ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=true
fi
cleanup() { if $own_policy; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
echo "install-node-packages: installed in $(( $(date +%s) - start ))s" >&2
