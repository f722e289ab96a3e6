# NVDAx — the two commands are `make demo` and `make test`; everything else is a step of theirs.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
# npm scripts and every node below run on the pinned Node 24 (npm devDependency `node@24`).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export ONNXRUNTIME_NODE_INSTALL := skip
CLUSTERS ?= hub,gpu-a,gpu-b
SIM := node hack/sim/main.ts

.PHONY: help
help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

node_modules/.installed: package.json package-lock.json
	@echo "== npm ci (Node 24 comes in as the devDependency node@24)"
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: node_modules/.installed ## install npm dependencies (npm ci)

.PHONY: binaries
binaries: ## build pinned kube-apiserver, etcd, kwok, helm... into ~/.cache/nvdax/bin (cached)
	bash hack/build-binaries.sh

.PHONY: generate
generate: deps ## regenerate crds/, operator/api/types.gen.ts, docs/api-reference.md and the chart's CRD copies
	node operator/api/generate.ts
	node hack/charts/sync-crds.ts

.PHONY: verify
verify: deps ## typecheck and fail when generated files are stale
	@echo "== node $$(node --version), typecheck"
	tsc -p tsconfig.json
	@echo "== generated files up to date"
	node operator/api/generate.ts --check
	node hack/contracts/build.ts --check
	node hack/charts/sync-crds.ts --check
	node hack/model/make-model.ts --check
	node hack/proto/generate.ts --check
	@echo "== lint and format (Biome)"
	biome check --error-on-warnings .

.PHONY: fmt
fmt: deps ## format and apply safe lint fixes (Biome)
	biome check --write .

.PHONY: test-unit
test-unit: deps binaries ## unit tests (no clusters; the chart tests run the pinned helm)
	ava 'test/unit/**/*.test.ts'

.PHONY: test
test: deps binaries verify ## everything: typecheck, generated-file check, unit and integration tests on simulated clusters
	bash hack/test.sh

.PHONY: image
image: ## build the container image: make image [IMAGE=nvdax:dev] (needs docker, podman or nerdctl)
	@b=$$(command -v docker || command -v podman || command -v nerdctl || true); \
	  [ -n "$$b" ] || { echo "make image: no container builder (docker, podman or nerdctl) on PATH" >&2; exit 1; }; \
	  $$b build -t $(or $(IMAGE),nvdax:dev) .

.PHONY: charts
charts: deps binaries ## lint, render and schema-check both Helm charts; check the image layout without a builder
	ava 'test/unit/charts/**/*.test.ts'

.PHONY: sim-up
sim-up: deps binaries ## start simulated clusters: make sim-up CLUSTERS=hub,gpu-a,gpu-b
	$(SIM) up --clusters $(CLUSTERS)

.PHONY: sim-down
sim-down: ## stop the simulated clusters
	@[ -d node_modules ] && $(SIM) down || true

.PHONY: sim-status
sim-status: ## show the simulated clusters
	$(SIM) status

.PHONY: sim-test-up
sim-test-up: deps binaries ## start the clusters the integration tests use (.sim-test/)
	$(SIM) up --dir .sim-test --port-base 21000 --clusters hub,gpu-a,gpu-b,gpu-c,gpu-d,gpu-e,gpu-f

.PHONY: sim-test-down
sim-test-down:
	@[ -d node_modules ] && $(SIM) down --dir .sim-test || true

.PHONY: demo
demo: deps binaries ## the main demo: simulated clusters, CRDs, operator, provider pools
	bash hack/demo.sh

.PHONY: bench
bench: deps binaries ## benchmarks (tables and ratios in bench/out/)
	bash hack/bench.sh

.PHONY: bench-placement
bench-placement: deps binaries ## placement benchmark alone: make bench-placement [SIZES=1000] (bench/out/placement.json)
	BENCH_ONLY=placement SIZES=$(or $(SIZES),1000,10000) bash hack/bench.sh

.PHONY: contracts
contracts: deps ## compile contracts/ with solc and write contracts/artifacts/ (ABI and bytecode)
	node hack/contracts/build.ts

.PHONY: fuzz
fuzz: deps ## property-based contract tests, 10,000 sequences on a local EVM node: make fuzz [SEED=n] [GENESIS=t] [RUNS=n]
	NVDAX_FUZZ_RUNS=$(or $(RUNS),10000) $(if $(SEED),NVDAX_FUZZ_SEED=$(SEED)) $(if $(GENESIS),NVDAX_FUZZ_GENESIS=$(GENESIS)) ava --timeout=10h test/contracts/properties.test.ts

.PHONY: bench-agent
bench-agent: deps binaries ## pull-mode agent alone: 200 GPU nodes, 500 pods; hub writes per heartbeat, RSS, signing (bench/out/agent.json)
	BENCH_ONLY=agent bash hack/bench.sh

.PHONY: bench-settlement
bench-settlement: deps ## settlement gas per job by batch size on a local EVM node (bench/out/settlement.json)
	node bench/settlement.ts

.PHONY: bench-training
bench-training: deps ## federated rounds, 3/10/50 participants, FedAvg against SecureAggregation (bench/out/training.json)
	node --expose-gc bench/training.ts

.PHONY: bench-gateway
bench-gateway: deps ## confidential gateway: plain against attested, encrypted gRPC on loopback (bench/out/gateway.json)
	node bench/gateway.ts

.PHONY: clean
clean: sim-down sim-test-down ## stop clusters and the local chain, remove local state (not the binary cache)
	@[ -d node_modules ] && node hack/chain/main.ts down || true
	rm -rf .sim .sim-test .chain bench/out
