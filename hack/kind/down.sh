#!/usr/bin/env bash
set -euo pipefail
for c in $(kind get clusters | grep '^nvdax-' || true); do kind delete cluster --name "$c"; done
rm -rf "$(dirname "$0")/../../.kind"
