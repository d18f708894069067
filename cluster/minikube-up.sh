#!/usr/bin/env bash
# make minikube-up: a minikube cluster with Istio and the shop. DRY_RUN=1 prints the
# commands only. MINIKUBE_CPUS / MINIKUBE_MEMORY size it (Istio's demo profile wants 4/8g).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
# lib.sh beside this script (its path up to the last "/", none when run by its bare name).
# shellcheck source=lib.sh
. "${BASH_SOURCE[0]%"${BASH_SOURCE[0]##*/}"}lib.sh"

require_tools minikube-up minikube kubectl istioctl docker make
warn_istioctl_version minikube-up
# minikube names the kubectl context after the profile.
context="$CLUSTER_NAME"

run minikube start -p "$CLUSTER_NAME" --cpus "${MINIKUBE_CPUS:-4}" --memory "${MINIKUBE_MEMORY:-8g}"
# minikube loads one image per call.
load_images() {
  local image
  for image in "${IMAGES[@]}"; do
    run minikube -p "$CLUSTER_NAME" image load "$image"
  done
}
install_shop "$context" load_images

if [ "${DRY_RUN:-0}" = 1 ]; then
  run minikube -p "$CLUSTER_NAME" ip
  ip="<minikube ip>"
else
  ip="$(minikube -p "$CLUSTER_NAME" ip)"
fi
echo "The Istio shop (ns3, through the ingress gateway): http://$ip:30080"
echo "The plain Kubernetes shop (ns1, NodePort):        http://$ip:30300"
echo "If the node IP is not reachable (Docker driver on macOS/Windows), run:"
echo "  minikube -p $CLUSTER_NAME service istio-ingressgateway -n istio-system --url"
echo "kubectl context: $context. Remove everything with: make minikube-down"
