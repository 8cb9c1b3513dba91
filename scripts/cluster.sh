#!/usr/bin/env bash
# Main job: build hpnode and hpfsd, create a local 3-node cluster running the example nodejs echo
# contract (examples/echo-nodejs), start it, and follow node 1's ledgers until Ctrl-C, which stops
# the cluster. Environment: CLUSTER_DIR (default ./local-cluster), NODES (default 3), CONTRACT.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${CLUSTER_DIR:-$PWD/local-cluster}
nodes=${NODES:-3}
contract=${CONTRACT:-examples/echo-nodejs}

if ! command -v fusermount3 >/dev/null; then
	apt-get update -qq && apt-get install -y -qq fuse3 >/dev/null
fi
mkdir -p bin
go build -o bin/ ./cmd/...
if [ -f "$contract/package.json" ] && [ ! -d "$contract/node_modules" ]; then
	(cd "$contract" && npm ci --no-audit --no-fund)
fi
if [ -f "$dir/cluster.json" ]; then
	bin/hpnode cluster clean "$dir"
fi
bin/hpnode cluster create "$dir" --nodes "$nodes" --contract "$contract"
bin/hpnode cluster start "$dir"
trap 'echo; bin/hpnode cluster stop "$dir"; bin/hpnode cluster status "$dir"' EXIT
bin/hpnode cluster status "$dir"
echo "users: wss://127.0.0.1:8081 .. (hotpocket-js-client); Ctrl-C stops the cluster"
bin/hpnode cluster logs "$dir" 1 -f | grep --line-buffered -E 'Ledger created|contract:'
