#!/usr/bin/env bash
# Two "hosts" that really talk over TCP: two network namespaces joined by a veth pair, two ranks in
# each (rank r in namespace r % 2, so ring order 0 2 1 3 differs from rank order), UCX over TCP on
# the veth only (UCX_TLS=tcp,self, UCX_NET_DEVICES=<veth>: no shared memory between the ranks),
# each namespace its own TIDAL_HOST_ID. Rank 0 hosts the rendezvous store on its veth address,
# launched as torchrun would (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR) with
# TIDAL_STORE_PORT and a TIDAL_SECRET, so the store binds 0.0.0.0 and admits the other namespace.
# The ranks run all_reduce_perf -c 1 (checks every element; exits non-zero on any wrong one)
# with -A hier and -A auto (2 hosts x 2: hier from 16 KiB up), then the veth's byte counters must
# show the traffic went over it.
#
# Usage: netns_hier_test.sh BIN_DIR. Exit 0: passed, 77: skipped (not root, or no network
# namespaces here: ip netns add / veth failed), anything else: failed. The namespaces (and with
# them the veth pair) are removed on every exit; every rank runs under a hard `timeout`.
set -u

bin=${1:?usage: netns_hier_test.sh BIN_DIR}
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2)"
[ -x "$bin/all_reduce_perf" ] || fail "no $bin/all_reduce_perf"

tag=$$
ns_a=tidal-a-$tag
ns_b=tidal-b-$tag
veth_a=tva$((tag % 10000000))  # interface names: at most 15 characters
veth_b=tvb$((tag % 10000000))
subnet=10.$((tag / 256 % 256)).$((tag % 256))
addr_a=$subnet.1
addr_b=$subnet.2
logs=$(mktemp -d /tmp/tidal-netns-XXXXXX)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  ip netns del "$ns_a" 2>/dev/null
  ip netns del "$ns_b" 2>/dev/null  # deleting a namespace deletes its end of the veth pair
  rm -rf "$logs"
}
trap cleanup EXIT
trap 'exit 2' INT TERM

ip netns add "$ns_a" 2>/dev/null || skip "ip netns add failed (no network namespaces here)"
ip netns add "$ns_b" 2>/dev/null || skip "ip netns add failed"
ip link add "$veth_a" type veth peer name "$veth_b" 2>/dev/null || skip "no veth support"
ip link set "$veth_a" netns "$ns_a" || fail "moving $veth_a"
ip link set "$veth_b" netns "$ns_b" || fail "moving $veth_b"
ip -n "$ns_a" addr add "$addr_a/24" dev "$veth_a" || fail "address $addr_a"
ip -n "$ns_b" addr add "$addr_b/24" dev "$veth_b" || fail "address $addr_b"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up || fail "lo up in $ns"; done
ip -n "$ns_a" link set "$veth_a" up || fail "$veth_a up"
ip -n "$ns_b" link set "$veth_b" up || fail "$veth_b up"
if command -v ping >/dev/null 2>&1; then
  ip netns exec "$ns_b" ping -c 1 -W 2 "$addr_a" >/dev/null 2>&1 || fail "$addr_b cannot reach $addr_a"
fi

tx_bytes() { ip netns exec "$1" cat "/sys/class/net/$2/statistics/tx_bytes"; }

# Runs all_reduce_perf on 4 ranks (2 per namespace) with the given flags; fails on any rank's
# failure, printing every rank's output.
run_world() {
  local secret=tidal-netns-$tag-$RANDOM port=29500 r ns veth host status=0
  pids=()
  for r in 0 1 2 3; do
    if [ $((r % 2)) = 0 ]; then ns=$ns_a veth=$veth_a host=host-a; else ns=$ns_b veth=$veth_b host=host-b; fi
    timeout -k 5 25 ip netns exec "$ns" env RANK=$r WORLD_SIZE=4 LOCAL_RANK=$((r / 2)) \
      LOCAL_WORLD_SIZE=2 MASTER_ADDR="$addr_a" TIDAL_STORE_PORT=$port TIDAL_SECRET="$secret" \
      TIDAL_HOST_ID=$host TIDAL_TIMEOUT_MS=20000 UCX_TLS=tcp,self UCX_NET_DEVICES="$veth" \
      "$bin/all_reduce_perf" "$@" >"$logs/rank$r.log" 2>&1 &
    pids+=($!)
  done
  for r in 0 1 2 3; do
    wait "${pids[$r]}" || { echo "rank $r exited with $?"; status=1; }
  done
  pids=()
  echo "== all_reduce_perf $* (rank 0)"
  cat "$logs/rank0.log"
  if [ $status != 0 ]; then
    for r in 1 2 3; do echo "== rank $r"; cat "$logs/rank$r.log"; done
    fail "all_reduce_perf $*"
  fi
}

before=$(tx_bytes "$ns_b" "$veth_b")
sizes=(-b 4 -e 4M -f 16 -n 2 -w 1 -c 1)
run_world "${sizes[@]}" -A hier -d float -o sum
run_world "${sizes[@]}" -A hier -d bfloat16 -o avg
run_world "${sizes[@]}" -A auto -d float -o sum
sent=$(( $(tx_bytes "$ns_b" "$veth_b") - before ))
echo "namespace B sent $sent bytes over $veth_b"
# Ranks 1 and 3 alone send 2 x 4 MiB / 4 of each float 4 MiB AllReduce across: far above 1 MiB.
[ "$sent" -gt $((1 << 20)) ] || fail "too little traffic over the veth ($sent bytes)"
echo "PASS"
