#!/usr/bin/env bash
# Builds the pinned control-plane binaries from the Go module proxy into a cache
# outside the checkout, so every clone (and CI on the same machine) reuses them.
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl  (k8s.io/kubernetes)
#   etcd (go.etcd.io/etcd/server/v3), kwok (sigs.k8s.io/kwok), helm (helm.sh/helm/v3)
# Idempotent: a binary already present with the right version stamp is kept.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

cache=${NVDAX_CACHE:-$HOME/.cache/nvdax}
bin="$cache/bin/$K8S_VERSION"
work="$cache/build"
mkdir -p "$bin" "$work"

log() { printf '[build-binaries %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

command -v go >/dev/null || die "go is not on PATH; install Go >= 1.26 (the module proxy must be reachable)"
export GOFLAGS=-buildvcs=false
export CGO_ENABLED=0
stamp="$bin/.stamp"
want="k8s=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION helm=$HELM_VERSION"
all=(kube-apiserver kube-controller-manager kube-scheduler kubectl etcd kwok helm)

have_all() { for b in "${all[@]}"; do [ -x "$bin/$b" ] || return 1; done; [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; }
if have_all; then log "binaries up to date in $bin ($want)"; exit 0; fi
log "building $want into $bin (cold: about 15-25 minutes on 2 cores; progress below)"
t0=$(date +%s)

# --- Kubernetes: a tools module that requires k8s.io/kubernetes and replaces each
# staging module (./staging/... in its go.mod) with the published v0.X.Y of the same name.
kube_minor=${K8S_VERSION#v1.}; kube_minor=${kube_minor%%.*}
staging_version="v0.${K8S_VERSION#v1.}"
kmod="$work/kube-$K8S_VERSION"
mkdir -p "$kmod"
if [ ! -f "$kmod/go.sum" ] || [ "$(cat "$kmod/.ok" 2>/dev/null)" != "$K8S_VERSION" ]; then
  log "resolving k8s.io/kubernetes@$K8S_VERSION (downloads modules on first run)"
  gomod=$(cd "$kmod" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  [ -f "$gomod" ] || die "could not download k8s.io/kubernetes@$K8S_VERSION go.mod"
  mapfile -t staging < <(grep -E '^[[:space:]]*(replace[[:space:]]+)?k8s\.io/[^ ]+ => \./staging/' "$gomod" | sed -E 's/^[[:space:]]*(replace[[:space:]]+)?//; s/ =>.*//')
  [ "${#staging[@]}" -gt 10 ] || die "found only ${#staging[@]} staging replaces in $gomod"
  log "k8s.io/kubernetes replaces ${#staging[@]} staging modules; pinning each at $staging_version"
  goline=$(sed -n 's/^go \(.*\)$/\1/p' "$gomod")
  {
    echo "module nvdax.local/kubetools"
    echo
    echo "go $goline"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    for m in "${staging[@]}"; do echo "	$m => $m $staging_version"; done
    echo ")"
  } > "$kmod/go.mod"
  cat > "$kmod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  (cd "$kmod" && go mod tidy -e 2>&1 | tail -5 >&2) || die "go mod tidy failed for the Kubernetes tools module"
  echo "$K8S_VERSION" > "$kmod/.ok"
fi

kube_ldflags="-s -w \
 -X k8s.io/component-base/version.gitVersion=$K8S_VERSION \
 -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$kube_minor \
 -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION \
 -X k8s.io/client-go/pkg/version.gitMajor=1 \
 -X k8s.io/client-go/pkg/version.gitMinor=$kube_minor"
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  if [ -x "$bin/$b" ] && "$bin/$b" --version 2>/dev/null | grep -q "$K8S_VERSION"; then log "$b present"; continue; fi
  [ "$b" = kubectl ] && { [ -x "$bin/$b" ] && "$bin/$b" version --client 2>/dev/null | grep -q "$K8S_VERSION" && { log "$b present"; continue; }; }
  log "go build $b ($(( $(date +%s) - t0 ))s elapsed)"
  (cd "$kmod" && go build -trimpath -ldflags "$kube_ldflags" -o "$bin/$b.tmp" "k8s.io/kubernetes/cmd/$b") || die "go build $b failed"
  mv "$bin/$b.tmp" "$bin/$b"
done

# --- etcd, kwok, helm: one tools module, no replaces needed.
tmod="$work/tools-$ETCD_VERSION-$KWOK_VERSION-$HELM_VERSION"
mkdir -p "$tmod"
if [ ! -f "$tmod/go.sum" ]; then
  log "resolving etcd $ETCD_VERSION, kwok $KWOK_VERSION, helm $HELM_VERSION"
  cat > "$tmod/go.mod" <<GOMOD
module nvdax.local/tools

go 1.26

require (
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
	sigs.k8s.io/kwok $KWOK_VERSION
	helm.sh/helm/v3 $HELM_VERSION
)
GOMOD
  cat > "$tmod/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "helm.sh/helm/v3/cmd/helm"
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
GO
  (cd "$tmod" && go mod tidy -e 2>&1 | tail -5 >&2) || die "go mod tidy failed for the etcd/kwok/helm tools module"
fi
helm_minor_k=$kube_minor
build_tool() { # name package ldflags
  log "go build $1 ($(( $(date +%s) - t0 ))s elapsed)"
  (cd "$tmod" && go build -trimpath -ldflags "-s -w $3" -o "$bin/$1.tmp" "$2") || die "go build $1 failed"
  mv "$bin/$1.tmp" "$bin/$1"
}
[ -x "$bin/etcd" ] && "$bin/etcd" --version 2>/dev/null | grep -q "${ETCD_VERSION#v}" || \
  build_tool etcd go.etcd.io/etcd/server/v3 ""
[ -x "$bin/kwok" ] && "$bin/kwok" --version 2>/dev/null | grep -q "$KWOK_VERSION" || \
  build_tool kwok sigs.k8s.io/kwok/cmd/kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
[ -x "$bin/helm" ] && "$bin/helm" version --short 2>/dev/null | grep -q "$HELM_VERSION" || \
  build_tool helm helm.sh/helm/v3/cmd/helm "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$helm_minor_k \
 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$helm_minor_k"

# kwok's own stage definitions ship in its module; keep a copy next to the binaries.
kwokdir=$(cd "$tmod" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
mkdir -p "$bin/kwok-stages" && cp -r "$kwokdir/kustomize/stage/." "$bin/kwok-stages/" && chmod -R u+w "$bin/kwok-stages"

echo "$want" > "$stamp"
log "done in $(( $(date +%s) - t0 ))s:"
"$bin/kube-apiserver" --version >&2
"$bin/kubectl" version --client 2>&1 | head -1 >&2
"$bin/etcd" --version 2>&1 | head -1 >&2
"$bin/kwok" --version 2>&1 | head -1 >&2
"$bin/helm" version --short >&2
