#!/bin/sh
# bench-compare.sh: the body of `make bench-compare`.
#
# Builds nats-server v2.15.2 from the Go module proxy into .cache/bin (once),
# builds canopy-bench, and runs the suite: A = nats-server (the baseline),
# B = Canopy (bin/canopy), every case in alternation A B A B ..., printing
# medians and Canopy/nats-server ratios. The JSON report goes to
# .cache/bench-compare.json, and beside it .cache/bench-compare.html: one
# self-contained page of charts. The idle-connection case also runs at 1,000
# and 5,000 connections, for the page's curve of memory per connection.
#
# Environment:
#   CANOPY           server B's command (default: bin/canopy). Until Canopy
#                    runs, CANOPY=.cache/bin/nats-server measures nats-server
#                    against itself, which shows the noise of this machine.
#   NATS_SERVER_VERSION  default v2.15.2
# Arguments are passed to `canopy-bench suite`, e.g. --quick, --pairs 5,
# --conns 100000, --only pubsub-16,reqrep, --dir .cache/suite,
# --conn-curve 19800 (added to 1000,5000).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cache="$root/.cache/bin"
version=${NATS_SERVER_VERSION:-v2.15.2}
mkdir -p "$cache"

nats_server="$cache/nats-server"
if ! "$nats_server" --version 2>/dev/null | grep -q "$version"; then
	echo "building nats-server $version into $cache" >&2
	GOBIN="$cache" go install "github.com/nats-io/nats-server/v2@$version"
fi

go build -o "$cache/canopy-bench" ./cmd/canopy-bench

canopy=${CANOPY:-$root/bin/canopy}
canopy_bin=${canopy%% *}
if [ ! -x "$canopy_bin" ]; then
	echo "bench-compare: $canopy_bin is missing; build Canopy first, or set CANOPY to another server command" >&2
	exit 2
fi

b_name=canopy
case "$canopy_bin" in
*nats-server) b_name=nats-server-as-B ;;
esac

echo "cores: $(nproc 2>/dev/null || echo '?')" >&2
exec "$cache/canopy-bench" suite \
	--a "$nats_server" --a-name "nats-server-$version" \
	--b "$canopy" --b-name "$b_name" \
	--json-file "$root/.cache/bench-compare.json" \
	--conn-curve 1000,5000 \
	"$@"
