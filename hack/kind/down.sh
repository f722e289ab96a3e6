#!/usr/bin/env bash
# Deletes every kind cluster hack/kind/up.sh made (nvdax-*) and its state in .kind/.
set -euo pipefail
for c in $(kind get clusters 2>/dev/null | grep '^nvdax-' || true); do kind delete cluster --name "$c"; done
rm -rf "$(dirname "$0")/../../.kind"
