# shellcheck shell=bash
# Shared by the kind/minikube scripts: dry-run execution, tool checks, applying the shop.
# Sourced, not run. Sourcing it moves to the repository root, wherever the script was called from.

lib_dir="${BASH_SOURCE[0]%/*}"
[ "$lib_dir" = "${BASH_SOURCE[0]}" ] && lib_dir=.
cd "$lib_dir/.." || exit 1

CLUSTER_NAME="${CLUSTER_NAME:-ecommerce}"
ROLLOUT_TIMEOUT="${ROLLOUT_TIMEOUT:-300s}"
# shellcheck disable=SC2034  # used by the scripts that source this file
IMAGES=(ecommerce/frontend:1.0 ecommerce/advertisements:1.0 ecommerce/advertisements:2.0 ecommerce/traffic-generator:1.0)

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

# The Istio release the manifests are checked against: ISTIO_VERSION in localmesh/versions.py.
# Read with sed, not `python -m localmesh.versions`: the cluster scripts must run without the
# project's venv and even without a python3 (macOS ships only a stub that asks to install
# developer tools), and sed reads a plain string literal the same everywhere. A test checks that
# this finds the constant, so a reformatted line cannot go unnoticed.
project_istio_version() {
  sed -n 's/^ISTIO_VERSION = "\([0-9][0-9.]*\)"$/\1/p' localmesh/versions.py
}

# One warning line when istioctl is another minor release than the project's; never stops the
# script (another minor often works, and the user may have chosen it). Without istioctl it says
# nothing: require_tools has already reported it.
warn_istioctl_version() {
  local script="$1" expected output line client="" client_minor=""
  command -v istioctl >/dev/null 2>&1 || return 0
  expected="$(project_istio_version)"
  if [ -z "$expected" ]; then
    echo "$script: warning: no ISTIO_VERSION = \"X.Y.Z\" line in localmesh/versions.py," \
      "istioctl's version is not checked" >&2
    return 0
  fi
  # --remote=false: the client's version only, no cluster needed. istioctl >= 1.24 prints
  # "client version: 1.29.6", older releases the bare version; dev builds look like 1.30-dev.
  output="$(istioctl version --remote=false --short 2>/dev/null)" || output=""
  while IFS= read -r line; do
    line="${line#client version: }"
    if [[ $line =~ ^([0-9]+\.[0-9]+)([.-]|$) ]]; then
      client="$line"
      client_minor="${BASH_REMATCH[1]}"
      break
    fi
  done <<<"$output"
  if [ -z "$client" ]; then
    echo "$script: warning: cannot tell istioctl's version (\`istioctl version --remote=false --short\`" \
      "printed none); these files are checked against Istio $expected" >&2
  elif [ "$client_minor" != "${expected%.*}" ]; then
    echo "$script: warning: istioctl is $client, but these files are checked against Istio $expected" \
      "(localmesh/versions.py); with another minor release the install and routing may differ" >&2
  fi
}

# Build the images with the project's `make images`.
build_images() {
  # docker, because `kind load docker-image` and `minikube image load` read its image store.
  run "${MAKE:-make}" images CONTAINER_ENGINE=docker
}

# Apply the shop in both namespaces and wait until every Deployment is available.
# The namespace first: `kubectl apply -f` applies in the order given. `-k` (kustomize) puts
# Namespaces first by itself.
apply_shop() {
  local context="$1"
  run kubectl --context "$context" apply -f k8s/namespace.yaml
  run kubectl --context "$context" apply -f k8s/frontend.yaml -f k8s/advertisements.yaml
  run kubectl --context "$context" apply -k istio/ecommerce-istio
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
  run istioctl install --context "$context" -y -f cluster/istio-operator.yaml
}

# What every up script does once its cluster runs: Istio, the images (put into the cluster by the
# command given after the context), then the shop.
install_shop() {
  local context="$1"
  shift
  install_istio "$context"
  build_images
  "$@"
  apply_shop "$context"
}
