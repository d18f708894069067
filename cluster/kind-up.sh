#!/usr/bin/env bash
# make kind-up: a kind cluster with Istio and the shop. DRY_RUN=1 prints the commands only.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# lib.sh beside this script (its path up to the last "/", none when run by its bare name).
# shellcheck source=lib.sh
. "${BASH_SOURCE[0]%"${BASH_SOURCE[0]##*/}"}lib.sh"

require_tools kind-up kind kubectl istioctl docker make
warn_istioctl_version kind-up
context="kind-$CLUSTER_NAME"

# Re-running after a failed step reuses the cluster instead of failing on "already exists".
if [ "${DRY_RUN:-0}" != 1 ] && kind get clusters 2>/dev/null | grep -qx "$CLUSTER_NAME"; then
  echo "kind cluster $CLUSTER_NAME exists: reusing it"
else
  run kind create cluster --name "$CLUSTER_NAME" --config cluster/kind.yaml --wait 120s
fi
install_shop "$context" run kind load docker-image --name "$CLUSTER_NAME" "${IMAGES[@]}"

echo "The Istio shop (ns3, through the ingress gateway): http://127.0.0.1:8080"
echo "The plain Kubernetes shop (ns1, NodePort):        http://127.0.0.1:8081"
echo "kubectl context: $context. Remove everything with: make kind-down"
