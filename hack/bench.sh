#!/usr/bin/env bash
# `make bench`: starts one simulated cluster for benchmarks (.sim-bench/), runs each
# benchmark in bench/, prints its tables (also in bench/out/), and stops the cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
trap 'node hack/sim/main.ts down --dir .sim-bench >/dev/null 2>&1 || true' EXIT
echo "== starting the benchmark cluster"
node hack/sim/main.ts up --dir .sim-bench --port-base 22000 --clusters bench >/dev/null
echo "== bench/informer-reconcile.ts (${BENCH_OBJECTS:-5000} objects)"
node --expose-gc bench/informer-reconcile.ts .sim-bench/bench/kubeconfig
