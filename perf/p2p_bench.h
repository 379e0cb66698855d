// P2pBench: the measurement protocol of p2p_perf, between a leader (rank 0) that decides what to
// run and times it, and a follower (rank 1) that serves the leader's commands. Keeping every
// decision on the leader (sizes, warm-up, adaptive iteration counts) means the ranks never have to
// agree on a clock or on a calibration: the follower learns each batch from a command message.
//
// Per batch, on tags of comm id kPerfComm (ops are told apart by the tag's op-sequence field):
//   leader -> follower  command {op, bytes, iters, seq}                         (kCtrl)
//   follower -> leader  "ready" once its first receives are posted              (kAck)
//   bandwidth: the leader sends windows of `window` messages from one buffer; the follower
//     receives them into one buffer (all receives pre-posted), posts the next window's receives,
//     then acks the window (kAck); the leader sends the next window on the ack. As ucx_perftest's
//     tag_bw: unidirectional, one ack per window. Time: leader, from "ready" to the last ack.
//   latency: ping-pong of `bytes` (kData both ways); half the round trip.
//   check: the leader sends a closed-form pattern for `seq`, the follower verifies it and answers
//     with its own pattern and its count of wrong bytes; the leader verifies that reply.
//   quit: the follower returns from Follow().
//
// Buffers are allocated once at the largest size, page-aligned and touched, and reused by every
// batch (so UCX's registration cache and the page tables are warm, as in ucx_perftest).
//
// Thread safety: one thread drives a P2pBench and its transport.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "tidal/core/status.h"
#include "tidal/transport/request.h"
#include "tidal/transport/transport.h"

namespace tidal::perf {

// Page-aligned bytes, touched at allocation so that page faults stay out of the timings.
class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t bytes);
  uint8_t* data() { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const;
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_;
};

// The closed-form check pattern: byte i of rank r's message number `seq` is
// 1 + (131 i + 7 seq + 29 r) mod 251, never 0 (the poison a receive buffer is filled with).
void FillPattern(uint8_t* data, size_t bytes, uint64_t seq, int rank);
// Number of bytes that differ from the pattern.
uint64_t CountWrong(const uint8_t* data, size_t bytes, uint64_t seq, int rank);

struct P2pBenchOptions {
  size_t max_bytes = 0;                       // largest message of the run
  int window = 64;                            // bandwidth: messages per ack
  std::chrono::milliseconds timeout{60'000};  // bound of every wait
};

class P2pBench {
 public:
  // REQUIRES: transport.size() == 2; options.window >= 1. `transport` outlives this object.
  P2pBench(Transport& transport, const P2pBenchOptions& options);
  ~P2pBench();
  P2pBench(const P2pBench&) = delete;
  P2pBench& operator=(const P2pBench&) = delete;

  // Leader (rank 0). Each runs one batch with the follower and returns the batch's seconds (or,
  // for Check, the wrong bytes counted on both ranks). REQUIRES: bytes <= max_bytes, iters >= 1.
  Result<double> Bandwidth(size_t bytes, int64_t iters);
  Result<double> Latency(size_t bytes, int64_t iters);
  Result<uint64_t> Check(size_t bytes, uint64_t seq);
  // Tells the follower to return.
  Status Quit();

  // Follower (rank 1): serves commands until Quit. Errors name this rank and the batch.
  Status Follow();

 private:
  struct Command;
  Status SendCommand(const Command& command);
  Status SendAck(uint64_t value);
  Result<uint64_t> RecvAck(const char* what);
  Status PostWindow(std::vector<Request>& requests, int count, size_t bytes, bool send);
  Status Wait(Request& request, const char* what);
  Status WaitWindow(std::vector<Request>& requests, int count, Request* extra, const char* what);
  Status ServeBandwidth(const Command& command);
  Status ServeLatency(const Command& command);
  Status ServeCheck(const Command& command);
  Status Serve(const Command& command, bool* quit);

  Transport& transport_;
  P2pBenchOptions options_;
  int peer_;
  AlignedBuffer send_;
  AlignedBuffer recv_;
  std::vector<Request> window_;    // data requests of one window
  std::vector<Request*> waiting_;  // WaitWindow's scratch
  Request ack_;                    // the ack of a window, "ready", check counts
  Request control_;                // commands (leader: send; follower: receive)
  uint64_t ack_value_ = 0;
  std::unique_ptr<Command> command_;  // the command buffer of control_
};

}  // namespace tidal::perf
