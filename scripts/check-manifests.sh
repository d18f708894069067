#!/usr/bin/env bash
# make check-manifests: every shipped set of manifests, in the order the workshop applies it,
# checked by `localmesh analyze` like `kubectl apply` (strict schema) and `istioctl analyze`.
# Every set is checked; the exit status is 1 when any of them has an error.
set -euo pipefail
cd "$(dirname "$0")/.."

LOCALMESH=${LOCALMESH:-.venv/bin/localmesh}
failed=0

analyze() {
  echo "localmesh analyze $*"
  "$LOCALMESH" analyze "$@" || failed=1
}

k8s_shop=(k8s/*.yaml)
canary=(-k istio/ecommerce-istio -k istio/ads_v2)

analyze "${k8s_shop[@]}"
analyze "${k8s_shop[@]}" k8s/service-networking
analyze -k istio/ecommerce-istio
analyze "${canary[@]}"
analyze "${canary[@]}" istio/experiment/postgres.yaml
for scenario in istio/scenarios/*.yaml; do
  analyze "${canary[@]}" "$scenario"
done
exit "$failed"
