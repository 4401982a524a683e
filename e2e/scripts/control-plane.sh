#!/usr/bin/env bash
# Local Kubernetes control plane: up | down | status  (see e2e/src/control-plane/cli.ts).
#   eval "$(e2e/scripts/control-plane.sh up)"   # sets KUBECONFIG
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=/dev/null
source "$root/scripts/node22.sh"
exec "$root/node_modules/.bin/tsx" "$root/e2e/src/control-plane/cli.ts" "$@"
