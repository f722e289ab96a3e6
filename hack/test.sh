#!/usr/bin/env bash
# `make test` after typecheck: unit tests, then one shared run of the simulated
# clusters for all integration tests, always torn down at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
t0=$(date +%s)
step() { echo "== $* ($(( $(date +%s) - t0 ))s)"; }

step "unit tests"
ava 'test/unit/**/*.test.ts'

step "contract tests (local EVM node)"
ava 'test/contracts/**/*.test.ts'

step "protocol tests (real gRPC servers and processes on loopback: gateway, SDK, federated training)"
ava 'test/protocol/**/*.test.ts'

step "starting simulated clusters hub, gpu-a, gpu-b, gpu-c, gpu-d, gpu-e, gpu-f for the integration tests"
trap 'step "stopping simulated clusters"; node hack/sim/main.ts down --dir .sim-test || true' EXIT
node hack/sim/main.ts up --dir .sim-test --port-base 21000 --clusters hub,gpu-a,gpu-b,gpu-c,gpu-d,gpu-e,gpu-f

step "integration tests"
NVDAX_SIM_DIR="$PWD/.sim-test" ava 'test/integration/**/*.test.ts' '!test/integration/agent.test.ts'
step "agent tests (alone: they stop their own hub's API server for a minute and time heartbeats)"
NVDAX_SIM_DIR="$PWD/.sim-test" ava test/integration/agent.test.ts
step "scale tests (alone: hundreds of pods on the simulated clusters)"
NVDAX_SIM_DIR="$PWD/.sim-test" ava 'test/scale/**/*.test.ts'
step "all tests passed"
