#!/usr/bin/env bash
# `make demo`: simulated hub + two GPU provider clusters, the CRDs, a local chain with the
# settlement contracts, the operator settling on it, and two ProviderPools whose providers stake;
# then three example jobs quoted, signed, submitted, placed on escrow, followed until they run
# and settled on chain period by period (exits 1 when one does not run within 3 minutes or
# nothing settles within 3 more). Leaves everything running for you to explore; `make sim-down`
# and `node hack/chain/main.ts down` stop it all.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
source hack/versions.env
BIN="${NVDAX_CACHE:-$HOME/.cache/nvdax}/bin/$K8S_VERSION"
SIM=.sim
K() { "$BIN/kubectl" --kubeconfig "$SIM/kubeconfig" "$@"; }
HUB() { K --context nvdax-hub "$@"; }
t0=$(date +%s)
step() { printf '\n\033[1m== %s\033[0m (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

step "1. Simulated clusters: hub (the NVDAx control plane) and two GPU providers"
node hack/sim/main.ts up --dir "$SIM" --port-base 20000 --clusters hub,gpu-a,gpu-b

step "1b. A local chain (anvil) with the settlement contracts, 60-second metering periods for the demo"
node hack/chain/main.ts down --dir .chain >/dev/null 2>&1 || true
node hack/chain/main.ts up --dir .chain --port 20545 --period-seconds 60 --dispute-window 60 --settle-window 3600
DEP=.chain/deployment.json
SETTLEMENT=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$DEP','utf8')).contracts.settlement)")
CHAIN() { node cli/nvdax.ts "$@" --deployment "$DEP"; }
echo "providers stake in the registry (pools of providers without stake take no paid work):"
CHAIN provider register --amount 2000 --key-file .chain/keys/account-6.key
CHAIN provider register --amount 2000 --key-file .chain/keys/account-7.key
echo "the requester deposits escrow (each job's task locks its share before the job starts):"
CHAIN escrow deposit --amount 500 --key-file .chain/keys/account-5.key

step "2. Validate the example manifests offline, then install the CRDs on the hub"
node cli/nvdax.ts validate -f examples/
HUB apply --server-side --force-conflicts -f crds/ >/dev/null
HUB wait --for=condition=Established crd --all --timeout=60s >/dev/null
HUB get crd -l '!nonexistent' -o custom-columns=CRD:.metadata.name,SHORT:.spec.names.shortNames,SCOPE:.spec.scope | grep -E 'CRD|nvdax'

step "3. Register the providers: kubeconfig Secrets + ProviderPools"
HUB create namespace nvdax-system --dry-run=client -o yaml | HUB apply -f - >/dev/null
for c in gpu-a gpu-b; do
  HUB -n nvdax-system create secret generic "$c" --from-file=kubeconfig="$SIM/$c/kubeconfig" --dry-run=client -o yaml | HUB apply -f - >/dev/null
done
HUB apply -f hack/demo/pools.yaml

step "4. Start the operator (logs: $SIM/logs/operator.log, metrics: http://127.0.0.1:20080/metrics)"
mkdir -p "$SIM/run" "$SIM/logs"
node hack/sim/main.ts stop-extra --dir "$SIM" --name operator >/dev/null 2>&1 || true
setsid node operator/main.ts --kubeconfig "$SIM/hub/kubeconfig" --ops-bind-address 127.0.0.1:20080 \
  --heartbeat-interval 10s --member-probe-interval 2s \
  --settlement-deployment "$DEP" --chain-key-file .chain/keys/account-1.key --usage-meter-interval 10s \
  >"$SIM/logs/operator.log" 2>&1 < /dev/null &
printf '%s\nnode\n' "$!" > "$SIM/run/operator.pid"   # argv[0] as /proc/<pid>/cmdline shows it
for i in $(seq 1 60); do curl -fsS http://127.0.0.1:20080/readyz >/dev/null 2>&1 && break; sleep 1; done
curl -fsS http://127.0.0.1:20080/readyz >/dev/null || { tail -20 "$SIM/logs/operator.log"; echo "operator did not become ready" >&2; exit 1; }
HUB wait --for=condition=Ready providerpool --all --timeout=60s

step "5. What the operator sees: pools, capacity per GPU product and mode, confidential runtimes"
HUB get providerpools -o wide
for p in gpu-a gpu-b; do
  echo; echo "pool $p:"
  HUB get providerpool "$p" -o jsonpath='{range .status.capacity[*]}  {.gpuProduct} ({.mode}, {.resourceName}): {.available}/{.allocatable} free on {.nodes} node(s), largest free block {.largestFreeBlock}{"\n"}{end}'
  HUB get providerpool "$p" -o jsonpath='{range .status.conditions[*]}  {.type}={.status} {.reason}: {.message}{"\n"}{end}'
done

step "6. A requester's workload lands on gpu-a: the pool's free GPUs follow"
K --context nvdax-gpu-a create namespace demo --dry-run=client -o yaml | K --context nvdax-gpu-a apply -f - >/dev/null
K --context nvdax-gpu-a -n demo delete pod --all --wait=false >/dev/null 2>&1 || true
cat <<'POD' | K --context nvdax-gpu-a -n demo apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: { name: confidential-llm }
spec:
  runtimeClassName: kata-qemu-nvidia-gpu-snp
  restartPolicy: Never
  containers:
    - name: vllm
      image: vllm/vllm-openai:latest
      resources: { limits: { nvidia.com/pgpu: "1" } }
POD
for i in $(seq 1 30); do
  used=$(HUB get providerpool gpu-a -o jsonpath='{.status.capacity[?(@.mode=="Confidential")].inUse}')
  [ "$used" = "1" ] && break; sleep 1
done
K --context nvdax-gpu-a -n demo get pod confidential-llm -o wide
HUB get providerpool gpu-a -o jsonpath='{range .status.capacity[*]}  {.gpuProduct} ({.mode}): inUse {.inUse}, available {.available}{"\n"}{end}'

NS=requesters
NVDAX() { node cli/nvdax.ts "$@" --kubeconfig "$SIM/kubeconfig" --context nvdax-hub -n "$NS"; }
# Fails the demo with what the operator saw of the job, and its log's end.
fail() {
  echo "demo: $1" >&2
  node cli/nvdax.ts describe "$2" "$3" --kubeconfig "$SIM/kubeconfig" --context nvdax-hub -n "$NS" >&2 || true
  tail -20 "$SIM/logs/operator.log" >&2
  exit 1
}

step "7. Quote before submitting: which pools fit each job now, and the price P = base x latency x load + fee"
for f in examples/inferencejob-chat.yaml examples/inferencejob-chat-confidential.yaml; do
  NVDAX quote -f "$f" || { echo "demo: no pool fits $f" >&2; exit 1; }
  echo
done
echo "The federated example needs 4 confidential pools in DE/FR/NL/ES; not this demo's two (so it is not submitted):"
NVDAX quote -f examples/trainingjob-federated.yaml || true

step "8. Sign and submit the jobs (requester key): a plain chat model, a confidential one, a distributed fine-tune"
HUB create namespace "$NS" --dry-run=client -o yaml | HUB apply -f - >/dev/null
for f in examples/inferencejob-chat.yaml examples/inferencejob-chat-confidential.yaml examples/trainingjob-distributed.yaml; do
  HUB -n "$NS" delete -f "$f" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  NVDAX submit -f "$f" --chain-id 31337 --settlement-address "$SETTLEMENT" --key-file .chain/keys/account-5.key
done

step "9. Follow each job: Pending -> Scheduled (placed and priced) -> Running (-> Succeeded for training)"
for ij in qwen-chat llama-chat; do
  echo "-- ij $ij"
  NVDAX watch ij "$ij" --timeout 3m || fail "InferenceJob $ij is not Running and Ready within 3m" ij "$ij"
done
echo "-- tj llama-finetune"
if ! NVDAX watch tj llama-finetune --timeout 3m; then
  # the simulated workers finish within seconds; a still Running fine-tune counts too
  phase=$(HUB -n "$NS" get tj llama-finetune -o jsonpath='{.status.phase}')
  [ "$phase" = Running ] ||
    fail "TrainingJob llama-finetune is ${phase:-Pending}, not Running or Succeeded, after 3m" tj llama-finetune
fi

step "10. The jobs as kubectl shows them (Pool, Price, Reason), and the pools' capacity after placement"
HUB -n "$NS" get ij,tj
echo
HUB get pp -o wide
echo
echo "their pods in the members (tenant namespace nvdax-$NS): node, runtime class, digest-pinned image"
for c in gpu-a gpu-b; do
  K --context "nvdax-$c" -n "nvdax-$NS" get pods --sort-by=.metadata.name -o custom-columns='POD:.metadata.name,'\
'PHASE:.status.phase,NODE:.spec.nodeName,RUNTIME:.spec.runtimeClassName,IMAGE:.spec.containers[0].image' |
    sed "s/^/  $c  /"
done

step "11. Settlement: each task opened on chain before its job started; usage settled per 60 s period"
echo "waiting for qwen-chat's first period to end and settle (up to 3 minutes)..."
for i in $(seq 1 180); do
  n=$(HUB -n "$NS" get ij qwen-chat -o jsonpath='{.status.settlement.settledPeriods}')
  [ "${n:-0}" -ge 1 ] && break; sleep 1
done
[ "${n:-0}" -ge 1 ] || fail "no period of qwen-chat settled within 3 minutes" ij qwen-chat
HUB -n "$NS" get ij,tj -o custom-columns='JOB:.metadata.name,TASK:.status.settlement.task,ESCROWED:.status.settlement.escrowed,'\
'CHARGED:.status.settlement.charged,RETURNED:.status.settlement.refunded,PERIODS:.status.settlement.settledPeriods,CLOSED:.status.settlement.closed'
echo; echo "the requester's escrow (free, and locked for the open tasks):"
CHAIN escrow balance --address 0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc
echo; echo "provider A's stake and earnings (pending until the dispute window passes):"
CHAIN provider status --address 0x976EA74026E726554dB657fA54763abd0C3a0aa9

step "12. One job in detail: placement, quote breakdown, init-data digest, usage, settlement, events"
NVDAX describe ij qwen-chat

step "Done in $(( $(date +%s) - t0 ))s. Everything keeps running:"
cat <<EOT
  kubectl:   $BIN/kubectl --kubeconfig $SIM/kubeconfig --context nvdax-hub get pp -o wide
  jobs:      $BIN/kubectl --kubeconfig $SIM/kubeconfig --context nvdax-hub -n $NS get ij,tj -o wide
  nvdax:     node cli/nvdax.ts get ij --kubeconfig $SIM/kubeconfig --context nvdax-hub -n $NS   (describe, watch, quote)
  members:   contexts nvdax-gpu-a, nvdax-gpu-b in $SIM/kubeconfig
  operator:  tail -f $SIM/logs/operator.log ; curl -s 127.0.0.1:20080/metrics | grep controller_runtime_reconcile_total
  lose one:  node hack/sim/main.ts stop --dir $SIM --cluster gpu-b --component kube-apiserver   (then: start ...)
  chain:     node cli/nvdax.ts escrow balance --deployment .chain/deployment.json --address 0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc
  stop all:  make sim-down; node hack/chain/main.ts down
EOT
