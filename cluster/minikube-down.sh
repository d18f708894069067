#!/usr/bin/env bash
# make minikube-down: delete the workshop's minikube profile. DRY_RUN=1 prints the command only.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
here="${BASH_SOURCE[0]%/*}"
[ "$here" = "${BASH_SOURCE[0]}" ] && here=.
cd "$here/.."
# shellcheck source=lib.sh
. cluster/lib.sh

require_tools minikube-down minikube
run minikube delete -p "$CLUSTER_NAME"
