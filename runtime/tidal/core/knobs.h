// The one table of every TIDAL_* environment knob: name, default and meaning. Each knob is
// declared once, in TIDAL_KNOB_TABLE below; code reads knobs only through this header, and
// `tidal-info` prints the table with current values. A unit test fails if any source file names a
// TIDAL_* variable that is not in the table.
//
// Thread safety: reads are thread-safe (they call getenv; tidal never calls setenv).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "tidal/core/status.h"

// The table is laid out by hand: clang-format reflows macro tables unstably.
// clang-format off
// X(enumerator, environment name, default, meaning)
#define TIDAL_KNOB_TABLE(X)                                                                       \
  X(kDebug, "TIDAL_DEBUG", "WARN", "Log level: NONE, ERROR, WARN, INFO, DEBUG or TRACE")          \
  X(kDebugSubsys, "TIDAL_DEBUG_SUBSYS", "ALL",                                                    \
    "Subsystems to log, comma-separated (INIT, STORE, TRANSPORT, PROGRESS, TOPO, COMM, COLL, "    \
    "GOSSIP, OPTIM, TOOLS, TEST), ALL, or ^LIST to exclude")                                      \
  X(kDebugFile, "TIDAL_DEBUG_FILE", "",                                                           \
    "Write the log to this file instead of stderr (%h host, "                                     \
    "%p pid)")                                                                                    \
  X(kRank, "TIDAL_RANK", "", "This process's rank in the world (set by tidalrun)")                \
  X(kWorldSize, "TIDAL_WORLD_SIZE", "", "Number of ranks in the world (set by tidalrun)")         \
  X(kLocalRank, "TIDAL_LOCAL_RANK", "", "Rank among the ranks of this host (set by tidalrun)")    \
  X(kLocalSize, "TIDAL_LOCAL_SIZE", "", "Number of ranks on this host (set by tidalrun)")         \
  X(kStoreAddr, "TIDAL_STORE_ADDR", "127.0.0.1", "Host of the rendezvous TCP store")              \
  X(kStorePort, "TIDAL_STORE_PORT", "", "Port of the rendezvous TCP store")                       \
  X(kStoreBind, "TIDAL_STORE_BIND", "127.0.0.1",                                                  \
    "Address the TCP store server binds to; 0.0.0.0 for multi-host jobs (set a secret)")          \
  X(kSecret, "TIDAL_SECRET", "",                                                                  \
    "Job secret every store client must present; without one only loopback clients are "          \
    "admitted")                                                                                   \
  X(kStoreMaxValue, "TIDAL_STORE_MAX_VALUE", "67108864",                                          \
    "Largest key+value a store request may carry, in bytes; larger requests are refused")         \
  X(kStoreMaxBytes, "TIDAL_STORE_MAX_BYTES", "1073741824",                                        \
    "Total bytes of keys and values a TCP store server holds before refusing writes")             \
  X(kStoreFile, "TIDAL_STORE_FILE", "",                                                           \
    "Use a file store in this directory (on a file system every rank sees, fresh for each job) "  \
    "instead of a TCP store")                                                                     \
  X(kTimeoutMs, "TIDAL_TIMEOUT_MS", "300000", "Default deadline of blocking operations, in ms")   \
  X(kSpinUs, "TIDAL_SPIN_US", "100",                                                              \
    "How long a waiter spins with sched_yield before sleeping on the event fd, in us")            \
  X(kInprocEagerBytes, "TIDAL_INPROC_EAGER_BYTES", "8192",                                        \
    "In-process transport: messages up to this size are copied when posted (eager); larger "      \
    "ones are copied when matched (rendezvous)")                                                  \
  X(kUcxPeerErrors, "TIDAL_UCX_PEER_ERRORS", "auto",                                              \
    "UCX endpoints' peer-failure handling: auto (where the transports support it, e.g. TCP; not " \
    "shared memory), on (required) or off")                                                       \
  X(kHostId, "TIDAL_HOST_ID", "",                                                                 \
    "Host id of this process for topology, placements and ring order (default: the host "         \
    "name); lets tests model several hosts on one machine")                                       \
  X(kLivenessPollMs, "TIDAL_LIVENESS_POLL_MS", "100",                                             \
    "How often each rank checks the store for deaths of other ranks, in ms")                      \
  X(kHeartbeatMs, "TIDAL_HEARTBEAT_MS", "1000",                                                   \
    "Store heartbeat period under launchers other than tidalrun, in ms; 0 disables heartbeats")   \
  X(kHeartbeatTimeoutMs, "TIDAL_HEARTBEAT_TIMEOUT_MS", "30000",                                   \
    "A rank whose heartbeat has not moved for this long is posted dead, in ms")                 \
  X(kReduceIsa, "TIDAL_REDUCE_ISA", "auto",                                                       \
    "CPU reduction kernels: auto (the best this CPU supports), scalar, avx2 or avx512; a variant " \
    "the CPU lacks falls back to auto with a warning")                                           \
  X(kAlgo, "TIDAL_ALGO", "auto",                                                                  \
    "Forces one algorithm for every collective that has it (ring, direct, chain, pairwise, shm, hier); "      \
    "collectives without it keep their selection")                                              \
  X(kAlgoAllReduce, "TIDAL_ALGO_ALLREDUCE", "auto", "Forces the AllReduce algorithm")              \
  X(kAlgoReduceScatter, "TIDAL_ALGO_REDUCE_SCATTER", "auto",                                      \
    "Forces the ReduceScatter algorithm")                                                         \
  X(kAlgoAllGather, "TIDAL_ALGO_ALLGATHER", "auto",                                               \
    "Forces the AllGather and AllGatherV algorithm")                                              \
  X(kAlgoBroadcast, "TIDAL_ALGO_BROADCAST", "auto", "Forces the Broadcast algorithm")              \
  X(kAlgoReduce, "TIDAL_ALGO_REDUCE", "auto", "Forces the Reduce algorithm")                       \
  X(kSegmentBytes, "TIDAL_SEGMENT_BYTES", "262144",                                               \
    "Pipeline segment of the collectives, in bytes (a few per L2 cache)")                         \
  X(kPipelineDepth, "TIDAL_PIPELINE_DEPTH", "4",                                                  \
    "Receive-and-reduce segments a collective keeps in flight (each holds one scratch segment)")  \
  X(kShmSlotBytes, "TIDAL_SHM_SLOT_BYTES", "1048576",                                           \
    "On-host AllReduce: bytes of each rank's shared-memory slot (two per rank)")                 \
  X(kShmOneShotBytes, "TIDAL_SHM_ONESHOT_BYTES", "32768",                                       \
    "On-host AllReduce: buffers up to this many bytes (and n x bytes up to four times it) use the "     \
    "one-shot protocol; its last-arriver variant (TIDAL_SHM_REDUCER) takes buffers up to twice it "  \
    "(0: never)")      \
  X(kShmReducer, "TIDAL_SHM_REDUCER", "auto",                                                   \
    "On-host one-shot AllReduce: who reduces: every (each rank reduces all n buffers), last (the " \
    "last rank to arrive reduces once for all) or auto (last when the host's ranks outnumber "     \
    "its CPUs); the same on every rank")                                                         \
  X(kShmStreamBytes, "TIDAL_SHM_STREAM_BYTES", "4194304",                                      \
    "On-host AllReduce: buffers of at least this many bytes receive the result through "         \
    "streaming (non-temporal) stores, which skip the cache (0: always; -1: never)")               \
  X(kCheckCollectives, "TIDAL_CHECK_COLLECTIVES", "0",                                            \
    "1: ranks compare each collective's signature (kind, count, type, op, root) before it runs "  \
    "and report the first rank that disagrees instead of hanging")                             \
  X(kOverlapYield, "TIDAL_OVERLAP_YIELD", "auto",                                                 \
    "Overlap Local-SGD: the trainer's thread gives up its CPU (sched_yield) after issuing the "    \
    "anchor AllReduce and after each local step while it is in flight: on, off or auto (on when " \
    "the host's ranks outnumber its CPUs); OverlapLocalSgdOptions::cpu_yield overrides it")

// clang-format on
namespace tidal {

enum class Knob {
#define TIDAL_KNOB_ENUM_(id, name, def, meaning) id,
  TIDAL_KNOB_TABLE(TIDAL_KNOB_ENUM_)
#undef TIDAL_KNOB_ENUM_
};

struct KnobInfo {
  Knob knob;
  std::string_view name;
  std::string_view default_value;
  std::string_view meaning;
};

// Every knob, in table order.
std::span<const KnobInfo> AllKnobs();
const KnobInfo& GetKnobInfo(Knob knob);
// Looks a knob up by its environment name; nullptr if there is none.
const KnobInfo* FindKnob(std::string_view name);

// True when the variable is set in the environment (even to an empty string).
bool KnobIsSet(Knob knob);
// The environment value, or the default when unset.
std::string KnobString(Knob knob);
// Parses the value as an integer; an unset knob with an empty default yields `fallback`.
// Returns kInvalidArgument naming the variable when the value is not an integer.
Result<int64_t> KnobInt(Knob knob, int64_t fallback = 0);
// Accepts 1/0, true/false, yes/no, on/off (any case).
Result<bool> KnobBool(Knob knob, bool fallback = false);
// Whether some environment variable's name starts with `prefix` (one pass over the environment,
// cheaper than a getenv per knob: hot paths ask this first and read their knobs only when set).
bool AnyEnvWithPrefix(std::string_view prefix);

}  // namespace tidal
