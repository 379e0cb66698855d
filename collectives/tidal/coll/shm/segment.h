// ShmSegment: a shared-memory segment that the members of a single-host communicator map, for
// the on-host collectives (shm_allreduce.h). On one host the memory system is the wire: ranks
// copy into and reduce straight out of each other's slots instead of passing messages.
//
// Layout: one control block per rank (two 64-bit counters, each on its own cache line) and one
// shared block (two more), followed by two slots of slot_bytes per rank (double buffering: round
// t uses slot set t % 2) and two result slots.
//   posted[q]: the last round whose data rank q has written into its slot;
//   done[q]:   the last round whose reads rank q has finished (so slot set t % 2 may be reused
//              for round t + 2 once every rank's done >= t).
//   arrivals:  how many arrivals the last-arriver one-shot rounds have counted (shm_oneshot.h);
//   reduced:   the last round whose result the last arriver has written into result slot t % 2.
// Counters only grow; readers use acquire loads, writers release stores (arrivals: fetch_add).
//
// Creation is collective over the communicator and goes through the store: rank 0 creates the
// POSIX shm object under a fresh random name and publishes the name; the others open and map it
// and check in; rank 0 unlinks the name once all have mapped it, so nothing remains in /dev/shm
// after the set-up even if a rank later dies. The mapping lives as long as the segment object.
//
// Thread safety: Attach is collective; the counters are atomics shared between processes; the
// slots are written only by their owner and read by others per the round protocol.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "tidal/comm/communicator.h"
#include "tidal/core/status.h"
#include "tidal/core/time.h"

namespace tidal::coll {

class ShmSegment {
 public:
  // The slot size a segment asked for `requested` bytes per slot has (whole cache lines).
  static size_t SlotBytesFor(size_t requested);
  // Collective over `comm`. REQUIRES: every member on this host.
  static Result<std::unique_ptr<ShmSegment>> Attach(Communicator& comm, size_t slot_bytes,
                                                    Deadline deadline);
  ~ShmSegment();
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  int size() const { return n_; }
  size_t slot_bytes() const { return slot_bytes_; }
  std::atomic<uint64_t>& posted(int rank);
  std::atomic<uint64_t>& done(int rank);
  std::atomic<uint64_t>& arrivals();
  std::atomic<uint64_t>& reduced();
  // The first rank, looking from `from` on (cyclically), whose posted (or done) counter is below
  // `round`; -1 when every rank has reached it.
  int FirstBelow(bool posted, uint64_t round, int from = 0);
  // Slot set `set` (0 or 1) of `rank`.
  uint8_t* slot(int rank, int set);
  // Result slot `set` (slot_bytes; written only by a last-arriver round's reducer).
  uint8_t* result(int set) { return slot(n_, set); }

 private:
  ShmSegment(void* base, size_t bytes, int n, size_t slot_bytes);

  void* base_;
  size_t bytes_;
  int n_;
  size_t slot_bytes_;
};

}  // namespace tidal::coll
