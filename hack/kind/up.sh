#!/usr/bin/env bash
# The kind path, for users with a Docker engine (our CI machines have none, so the
# tests run on hack/sim instead). Creates a hub and member clusters as kind clusters,
# installs the CRDs and RuntimeClasses into them, and adds simulated GPU nodes with
# kwok so the operator has capacity to see, exactly as in the simulated clusters.
#   hack/kind/up.sh [hub gpu-a gpu-b]     hack/kind/down.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v kind >/dev/null || { echo "kind is not installed: https://kind.sigs.k8s.io/docs/user/quick-start/" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "kubectl is not on PATH" >&2; exit 1; }
clusters=("${@:-hub gpu-a gpu-b}"); read -r -a clusters <<<"${clusters[*]}"
KWOK_VERSION=$(sed -n 's/^KWOK_VERSION=//p' hack/versions.env)
mkdir -p .kind
for c in "${clusters[@]}"; do
  name="nvdax-$c"
  kind get clusters | grep -qx "$name" || kind create cluster --name "$name" --kubeconfig ".kind/$c.kubeconfig"
  export KUBECONFIG=".kind/$c.kubeconfig"
  kubectl apply --server-side -f crds/
  # kwok as an in-cluster controller managing only nodes annotated kwok.x-k8s.io/node=fake
  kubectl apply -f "https://github.com/kubernetes-sigs/kwok/releases/download/${KWOK_VERSION}/kwok.yaml"
  kubectl apply -f "https://github.com/kubernetes-sigs/kwok/releases/download/${KWOK_VERSION}/stage-fast.yaml"
  node hack/sim/objects.ts --cluster "$c" | kubectl apply --server-side -f -
done
KUBECONFIG=$(ls .kind/*.kubeconfig | paste -sd: -) kubectl config view --flatten > .kind/kubeconfig
echo "kind clusters ready; contexts: $(KUBECONFIG=.kind/kubeconfig kubectl config get-contexts -o name | paste -sd' ')"
