#!/usr/bin/env bash
# make kind-down: delete the workshop's kind cluster. DRY_RUN=1 prints the command only.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="${BASH_SOURCE[0]%/*}"
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
cd "$here/.."
# shellcheck source=lib.sh
. cluster/lib.sh

require_tools kind-down kind
run kind delete cluster --name "$CLUSTER_NAME"
