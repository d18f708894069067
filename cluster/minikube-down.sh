#!/usr/bin/env bash
# make minikube-down: delete the workshop's minikube profile. DRY_RUN=1 prints the command only.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# lib.sh beside this script (its path up to the last "/", none when run by its bare name).
# shellcheck source=lib.sh
. "${BASH_SOURCE[0]%"${BASH_SOURCE[0]##*/}"}lib.sh"

require_tools minikube-down minikube
run minikube delete -p "$CLUSTER_NAME"
