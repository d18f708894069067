# shellcheck shell=bash
# Shared by the kind/minikube scripts: dry-run execution, tool checks, applying the shop.
# Sourced, not run. The caller has already `cd`-ed to the repository root.

CLUSTER_NAME="${CLUSTER_NAME:-ecommerce}"
ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-300s}"
# shellcheck disable=SC2034  # used by the scripts that source this file
IMAGES=(ecommerce/frontend:1.0 ecommerce/advertisements:1.0 ecommerce/advertisements:2.0)

# Run a command, or with DRY_RUN=1 print it (shell-quoted, prefixed by "+ ") instead.
run() {
  if [ "${DRY_RUN:-0}" = 1 ]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

# Where to get each tool, printed next to its name when it is missing.
tool_hint() {
  case "$1" in
    kind) echo "https://kind.sigs.k8s.io/docs/user/quick-start/#installation" ;;
    minikube) echo "https://minikube.sigs.k8s.io/docs/start/" ;;
    kubectl) echo "https://kubernetes.io/docs/tasks/tools/" ;;
    istioctl) echo "https://istio.io/latest/docs/setup/getting-started/#download" ;;
    docker) echo "https://docs.docker.com/engine/install/" ;;
    make) echo "your system's package manager" ;;
    *) echo "your system's package manager" ;;
  esac
}

# One line per missing tool, then stop (exit 1). A dry run only reports them and goes on,
# so the commands can be read on a machine without the tools.
require_tools() {
  local script="$1" tool missing=0 note=""
  shift
  [ "${DRY_RUN:-0}" = 1 ] && note="; dry run goes on, a real run stops here"
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "$script: missing tool: $tool (install it: $(tool_hint "$tool"))$note" >&2
      missing=1
    fi
  done
  if [ "$missing" = 1 ] && [ "${DRY_RUN:-0}" != 1 ]; then
    exit 1
  fi
}

# Build the three images with the project's `make images`.
build_images() {
  # docker, because `kind load docker-image` and `minikube image load` read its image store.
  run "${MAKE:-make}" images CONTAINER_ENGINE=docker
}

# Apply the shop in both namespaces and wait until every Deployment is available.
# Namespaces first: `kubectl apply -f DIR` goes alphabetically, and namespace.yaml sorts last.
apply_shop() {
  local context="$1"
  run kubectl --context "$context" apply -f k8s/namespace.yaml
  run kubectl --context "$context" apply -f k8s/frontend.yaml -f k8s/advertisements.yaml
  run kubectl --context "$context" apply -f istio/ecommerce-istio/namespace.yaml
  run kubectl --context "$context" apply -f istio/ecommerce-istio/
  run kubectl --context "$context" apply -f istio/frontend-gateway.yaml
  run kubectl --context "$context" -n istio-system rollout status deployment/istio-ingressgateway \
    --timeout "$ROLLOUT_TIMEOUT"
  run kubectl --context "$context" -n ns1 wait --for=condition=Available deployment --all \
    --timeout "$ROLLOUT_TIMEOUT"
  run kubectl --context "$context" -n ns3 wait --for=condition=Available deployment --all \
    --timeout "$ROLLOUT_TIMEOUT"
}

# Istio's demo profile plus the workshop's tracing and gateway settings.
install_istio() {
  local context="$1"
  run istioctl install --context "$context" -y -f istio/install/istio-operator.yaml
}
