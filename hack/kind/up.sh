#!/usr/bin/env bash
# The kind path, for users with a Docker engine (not part of `make test`: our CI machines have no
# Docker, so the tests install the same charts into the simulated clusters of hack/sim instead).
#
#   hack/kind/up.sh [gpu-a gpu-b]     # a hub and these provider clusters (default: gpu-a gpu-b)
#   hack/kind/down.sh                 # delete them all
#
# 1. builds the nvdax image (Dockerfile) and loads it into every kind cluster;
# 2. hub: charts/nvdax-operator (two replicas, leader election, CRDs);
# 3. each provider: simulated GPU nodes and the Confidential Containers RuntimeClasses (kwok in the
#    cluster, as in hack/sim), then charts/nvdax-provider with hack/kind/values/<provider>.yaml;
# 4. registers each provider's pool on the hub in KubeconfigSecret mode: the provider chart's
#    member-access token, reached over the kind network (the pull-mode agent is off here;
#    NVDAX_AGENT=true turns it on, with unsigned heartbeats: this hub settles nowhere);
# 5. submits examples/inferencejob-chat.yaml and waits until it is Ready.
# Everything lands in .kind/ (git-ignored): one kubeconfig per cluster and .kind/kubeconfig with all.
set -euo pipefail
cd "$(dirname "$0")/../.."
source hack/versions.env
BIN="${NVDAX_CACHE:-$HOME/.cache/nvdax}/bin/$K8S_VERSION"
need() { command -v "$1" >/dev/null 2>&1 || { echo "$1 is not installed: $2" >&2; exit 1; }; }
need docker "https://docs.docker.com/engine/install/"
need kind "https://kind.sigs.k8s.io/docs/user/quick-start/"
need node "Node 24 (npm ci brings it as node_modules/.bin/node)"
KUBECTL=$(command -v kubectl || echo "$BIN/kubectl"); HELM=$(command -v helm || echo "$BIN/helm")
[ -x "$KUBECTL" ] || { echo "kubectl not found (make binaries builds one into $BIN)" >&2; exit 1; }
[ -x "$HELM" ] || { echo "helm not found (make binaries builds one into $BIN)" >&2; exit 1; }
export PATH="$PWD/node_modules/.bin:$PATH"
providers=("${@:-gpu-a gpu-b}"); read -r -a providers <<<"${providers[*]}"
IMAGE=${NVDAX_IMAGE:-nvdax:dev}
AGENT=${NVDAX_AGENT:-false}
image_values=(--set "image.repository=${IMAGE%:*}" --set "image.tag=${IMAGE##*:}" --set image.pullPolicy=Never)
t0=$(date +%s)
step() { printf '\n\033[1m== %s\033[0m (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }
mkdir -p .kind

cluster() {   # create (once) and load the image
  local name="nvdax-$1"
  kind get clusters 2>/dev/null | grep -qx "$name" || kind create cluster --name "$name" --kubeconfig ".kind/$1.kubeconfig"
  kind get kubeconfig --name "$name" > ".kind/$1.kubeconfig"
  kind load docker-image "$IMAGE" --name "$name"
}
HUB() { "$KUBECTL" --kubeconfig .kind/hub.kubeconfig "$@"; }

step "1. Image $IMAGE"
docker build -t "$IMAGE" .

step "2. Hub: kind cluster nvdax-hub, charts/nvdax-operator"
cluster hub
"$HELM" upgrade --install nvdax charts/nvdax-operator --kubeconfig .kind/hub.kubeconfig \
  --namespace nvdax-system --create-namespace -f hack/kind/values/hub.yaml "${image_values[@]}" --wait --timeout 5m

for p in "${providers[@]}"; do
  step "3. Provider $p: kind cluster nvdax-$p, simulated GPU nodes, charts/nvdax-provider"
  cluster "$p"
  P() { "$KUBECTL" --kubeconfig ".kind/$p.kubeconfig" "$@"; }
  # kwok in the cluster, managing only nodes annotated kwok.x-k8s.io/node=fake, with pods that run
  P apply -f "https://github.com/kubernetes-sigs/kwok/releases/download/${KWOK_VERSION}/kwok.yaml"
  P apply -f "https://github.com/kubernetes-sigs/kwok/releases/download/${KWOK_VERSION}/stage-fast.yaml"
  node hack/sim/objects.ts --cluster "$p" | P apply --server-side -f -
  P create namespace nvdax-provider --dry-run=client -o yaml | P apply -f -
  # what a provider brings: a hub kubeconfig (here the hub's admin one, on the kind network) and its key
  kind get kubeconfig --internal --name nvdax-hub \
    | P -n nvdax-provider create secret generic nvdax-hub --from-file=kubeconfig=/dev/stdin --dry-run=client -o yaml | P apply -f -
  P -n nvdax-provider get secret nvdax-provider-key >/dev/null 2>&1 \
    || P -n nvdax-provider create secret generic nvdax-provider-key --from-literal=key="0x$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
  "$HELM" upgrade --install "$p" charts/nvdax-provider --kubeconfig ".kind/$p.kubeconfig" --namespace nvdax-provider \
    -f "hack/kind/values/$p.yaml" "${image_values[@]}" --set memberAccess.enabled=true --set "agent.enabled=$AGENT" \
    --wait --timeout 5m

  step "4. Register pool $p on the hub (KubeconfigSecret: the provider chart's member-access token)"
  for i in $(seq 1 30); do
    token=$(P -n nvdax-provider get secret "$p-nvdax-provider-hub-token" -o jsonpath='{.data.token}' | base64 -d)
    [ -n "$token" ] && break; sleep 1
  done
  P -n nvdax-provider get secret "$p-nvdax-provider-hub-token" -o jsonpath='{.data.ca\.crt}' | base64 -d > ".kind/$p-ca.crt"
  server=$(kind get kubeconfig --internal --name "nvdax-$p" | sed -n 's/^ *server: //p' | head -1)
  member=".kind/$p.member.kubeconfig"; rm -f "$member"
  "$KUBECTL" config --kubeconfig "$member" set-cluster member --server "$server" --certificate-authority ".kind/$p-ca.crt" --embed-certs >/dev/null
  "$KUBECTL" config --kubeconfig "$member" set-credentials hub --token "$token" >/dev/null
  "$KUBECTL" config --kubeconfig "$member" set-context member --cluster member --user hub >/dev/null
  "$KUBECTL" config --kubeconfig "$member" use-context member >/dev/null
  HUB -n nvdax-system create secret generic "$p" --from-file=kubeconfig="$member" --dry-run=client -o yaml | HUB apply -f -
  P -n nvdax-provider get configmap "$p-nvdax-provider-pool" -o jsonpath='{.data.providerpool\.yaml}' | HUB apply -f -
done
HUB wait --for=condition=Ready providerpool --all --timeout=3m
HUB get providerpools -o wide

step "5. A sample job: examples/inferencejob-chat.yaml in namespace my-team"
HUB create namespace my-team --dry-run=client -o yaml | HUB apply -f -
HUB -n my-team apply -f examples/inferencejob-chat.yaml
HUB -n my-team wait --for=condition=Ready inferencejob/qwen-chat --timeout=3m
HUB -n my-team get inferencejobs

KUBECONFIG=$(printf '.kind/%s.kubeconfig:' hub "${providers[@]}") "$KUBECTL" config view --flatten > .kind/kubeconfig
echo
echo "kind clusters ready; contexts: $("$KUBECTL" --kubeconfig .kind/kubeconfig config get-contexts -o name | paste -sd' ')"
echo "  kubectl --kubeconfig .kind/kubeconfig --context kind-nvdax-hub -n nvdax-system logs deployment/nvdax-operator"
echo "  npx nvdax get -A --kubeconfig .kind/kubeconfig --context kind-nvdax-hub"
