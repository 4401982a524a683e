#!/usr/bin/env bash
# The quickstart: up | down  (see e2e/src/quickstart/cli.ts). `npm run up` builds the apps first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=/dev/null
source "$root/scripts/node22.sh"
exec "$root/node_modules/.bin/tsx" "$root/e2e/src/quickstart/cli.ts" "$@"
