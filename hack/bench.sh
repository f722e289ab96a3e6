#!/usr/bin/env bash
# `make bench`: starts one simulated cluster for benchmarks (.sim-bench/), runs each
# benchmark in bench/, prints its tables (also in bench/out/), and stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
# the parts that need no clusters run alone without starting them; a name not known is refused, not ignored
case "${BENCH_ONLY:-}" in
  '' | agent | placement) ;;
  gateway) exec node bench/gateway.ts ;;
  settlement) exec node bench/settlement.ts ;;
  training) exec node --expose-gc bench/training.ts ;;
  *)
    echo "BENCH_ONLY=${BENCH_ONLY}: not one of agent, placement, gateway, settlement, training" >&2
    exit 2
    ;;
esac
trap 'node hack/sim/main.ts down --dir .sim-bench >/dev/null 2>&1 || true' EXIT
clusters=bench,bench-b,bench-c
[ "${BENCH_ONLY:-}" = agent ] && clusters=bench,bench-b
echo "== starting the benchmark clusters ${clusters//,/, }"
node hack/sim/main.ts up --dir .sim-bench --port-base 22000 --clusters "$clusters" >/dev/null
if [ "${BENCH_ONLY:-}" = agent ]; then
  echo "== bench/agent.ts (the pull-mode agent: 200 GPU nodes and 500 pods in bench-b, reporting to bench)"
  node bench/agent.ts .sim-bench/bench/kubeconfig .sim-bench/bench-b/kubeconfig
  exit 0
fi
if [ "${BENCH_ONLY:-}" = placement ]; then
  echo "== bench/placement.ts (SIZES=${SIZES:-1000,10000}; the 10,000 run takes many minutes, progress below)"
  node bench/placement.ts .sim-bench/bench/kubeconfig .sim-bench/bench-b/kubeconfig .sim-bench/bench-c/kubeconfig
  exit 0
fi
# the fleet first, while the clusters hold only its pods
echo "== bench/fleet.ts (${BENCH_OBJECTS:-5000} pods over three member clusters)"
node --expose-gc bench/fleet.ts .sim-bench/bench/kubeconfig .sim-bench/bench-b/kubeconfig .sim-bench/bench-c/kubeconfig
echo "== bench/agent.ts (the pull-mode agent: 200 GPU nodes and 500 pods in bench-b, reporting to bench)"
node bench/agent.ts .sim-bench/bench/kubeconfig .sim-bench/bench-b/kubeconfig
echo "== bench/informer-reconcile.ts (${BENCH_OBJECTS:-5000} objects)"
node --expose-gc bench/informer-reconcile.ts .sim-bench/bench/kubeconfig
echo "== bench/placement.ts (SIZES=${SIZES:-1000,10000}; the 10,000 run takes many minutes, progress below)"
node bench/placement.ts .sim-bench/bench/kubeconfig .sim-bench/bench-b/kubeconfig .sim-bench/bench-c/kubeconfig
# the rest need no clusters: a local EVM node, gRPC on loopback
echo "== bench/settlement.ts (gas per job by batch size, a local EVM node)"
node bench/settlement.ts
echo "== bench/gateway.ts (plain against attested, encrypted inference on loopback)"
node bench/gateway.ts
echo "== bench/training.ts (federated rounds on loopback: FedAvg against SecureAggregation)"
node --expose-gc bench/training.ts
