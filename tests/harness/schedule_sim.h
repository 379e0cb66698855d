// A symbolic executor for schedules (collectives/tidal/coll/schedule/): runs the per-position op
// lists of n positions against each other without a transport and reports what every element of
// every buffer ends up holding.
//
// An element's value is symbolic: the set of positions whose input it contains (a bitmask, so at
// most 64 positions) and a value id naming the bytes. A reduction checks that the two sets are
// disjoint (a contribution counted twice is an error) and gives the result a fresh id; a plain
// receive copies the sender's element, id included. Two buffers holding the same id therefore
// hold the same bytes, which is how tests check bit-identity: every rank's copy of a range must be
// a copy of its owner's reduced value, never a separate reduction.
//
// Buffers: Simulate runs every op on one buffer per position (in place). SimulateInOut gives each
// position an input and an output buffer, as an out-of-place executor does: sends read the input,
// receives write the output, a kCopy copies its range from the input to the output. There a
// receive must match a send of the same count, not the same range (the two ends lay their buffers
// out differently, e.g. AllToAllV), and buffers may differ in size between positions. Schedules
// that forward what they received (ring, chain) read their output and run in place.
//
// Execution: each position runs its ops in order. A send completes at once (unbounded buffering)
// and queues the message under (source, destination, TagStep(op)), as the wire tag would carry it;
// a receive takes the oldest message of its queue (FIFO, as the transports match) and blocks while
// there is none. The simulation fails when a receive meets a message of another range or (step,
// segment) (a wrapped tag pairing the wrong messages), when every unfinished position is blocked
// (deadlock), when messages are left unreceived, or on any out-of-range op.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tidal/coll/schedule/schedule.h"

namespace tidal::testing {

struct SimElement {
  uint64_t contributors = 0;  // bit p: position p's input is part of this value
  uint64_t value_id = 0;      // names the bytes; 0: never written (undefined)
  friend bool operator==(const SimElement&, const SimElement&) = default;
};

using SimBuffer = std::vector<SimElement>;

// Every element of position p's buffer holds p's own input (contributors = {p}, distinct ids).
std::vector<SimBuffer> InputBuffers(int n, size_t count);
// Only OwnedRange(p) of position p's buffer holds p's input; the rest is undefined.
std::vector<SimBuffer> ShardBuffers(int n, size_t count);
// Only chunks[p] of position p's buffer holds p's input; n = chunks.size(). REQUIRES: every
// chunk lies in [0, count).
std::vector<SimBuffer> ChunkBuffers(std::span<const coll::ElementRange> chunks, size_t count);

struct SimResult {
  bool ok = false;
  std::string error;                  // the first failure, when !ok
  std::vector<SimBuffer> buffers;     // per position, after the last op
  std::vector<size_t> sent_elements;  // per position
  std::vector<size_t> recv_elements;  // per position
  size_t messages = 0;
};

// Runs schedules[p] as position p, n = schedules.size() <= 64, on `initial` (n buffers of one
// size).
SimResult Simulate(const std::vector<coll::Schedule>& schedules, std::vector<SimBuffer> initial);

// Runs schedules[p] as position p reading inputs[p] and writing outputs[p] (see Buffers above);
// the result's buffers are the outputs. REQUIRES: inputs.size() == outputs.size() == n, and value
// ids distinct across all inputs and outputs (as InputBuffers gives).
SimResult SimulateInOut(const std::vector<coll::Schedule>& schedules, std::vector<SimBuffer> inputs,
                        std::vector<SimBuffer> outputs);

// The mask of all n positions.
uint64_t AllPositions(int n);

}  // namespace tidal::testing
