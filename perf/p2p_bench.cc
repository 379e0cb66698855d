#include "p2p_bench.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "tidal/core/check.h"
#include "tidal/core/strcat.h"
#include "tidal/transport/tag.h"
#include "tidal/transport/wait.h"

namespace tidal::perf {
namespace {

using Seconds = std::chrono::duration<double>;

// The perf tool's own world, so comm id 1 (0 belongs to the runtime's bootstrap); the op-sequence
// field tells the message kinds apart. Each kind is FIFO per source, which the protocol relies on.
constexpr uint32_t kPerfComm = 1;
constexpr Tag kCtrlTag = MakeTag(kPerfComm, 1, 0, 0);
constexpr Tag kDataTag = MakeTag(kPerfComm, 2, 0, 0);
constexpr Tag kAckTag = MakeTag(kPerfComm, 3, 0, 0);
constexpr size_t kPageBytes = 4096;
constexpr uint32_t kPatternModulus = 251;  // prime: power-of-two strides cannot alias

enum class Op : uint32_t { kBandwidth = 1, kLatency = 2, kCheck = 3, kQuit = 4 };

}  // namespace

struct P2pBench::Command {
  Op op = Op::kQuit;
  uint32_t reserved = 0;
  uint64_t bytes = 0;
  uint64_t iters = 0;
  uint64_t seq = 0;
};

AlignedBuffer::AlignedBuffer(size_t bytes) : size_(bytes) {
  const size_t rounded = std::max(kPageBytes, (bytes + kPageBytes - 1) / kPageBytes * kPageBytes);
  data_.reset(static_cast<uint8_t*>(std::aligned_alloc(kPageBytes, rounded)));
  TIDAL_CHECK(data_ != nullptr) << "cannot allocate " << rounded << " bytes";
  std::memset(data_.get(), 0, rounded);
}

void AlignedBuffer::Free::operator()(uint8_t* p) const { std::free(p); }

void FillPattern(uint8_t* data, size_t bytes, uint64_t seq, int rank) {
  uint32_t v =
      static_cast<uint32_t>((7 * seq + 29 * static_cast<uint64_t>(rank)) % kPatternModulus);
  for (size_t i = 0; i < bytes; ++i) {
    data[i] = static_cast<uint8_t>(1 + v);
    v += 131;
    if (v >= kPatternModulus) v -= kPatternModulus;
  }
}

uint64_t CountWrong(const uint8_t* data, size_t bytes, uint64_t seq, int rank) {
  uint32_t v =
      static_cast<uint32_t>((7 * seq + 29 * static_cast<uint64_t>(rank)) % kPatternModulus);
  uint64_t wrong = 0;
  for (size_t i = 0; i < bytes; ++i) {
    wrong += data[i] != static_cast<uint8_t>(1 + v) ? 1 : 0;
    v += 131;
    if (v >= kPatternModulus) v -= kPatternModulus;
  }
  return wrong;
}

P2pBench::P2pBench(Transport& transport, const P2pBenchOptions& options)
    : transport_(transport),
      options_(options),
      peer_(1 - transport.rank()),
      send_(options.max_bytes),
      recv_(options.max_bytes),
      window_(static_cast<size_t>(options.window)),
      command_(std::make_unique<Command>()) {
  waiting_.reserve(window_.size() + 1);
  static_assert(std::is_trivially_copyable_v<Command> && sizeof(Command) == 32,
                "commands travel as raw bytes between two builds of the same tool");
  TIDAL_CHECK_EQ(transport.size(), 2);
  TIDAL_CHECK_GE(options.window, 1);
}

// An error can leave requests pending; they must complete before their buffers go away.
P2pBench::~P2pBench() {
  const auto any_pending = [this] {
    if (ack_.pending() || control_.pending()) return true;
    return std::any_of(window_.begin(), window_.end(),
                       [](const Request& r) { return r.pending(); });
  };
  if (!any_pending()) return;
  transport_.Abort(AbortedError("rank ", transport_.rank(), ": p2p_perf stopped after an error"));
  const Deadline deadline = Deadline::AfterMs(2000);
  while (any_pending() && !deadline.Expired()) transport_.Progress();
}

Status P2pBench::Wait(Request& request, const char* what) {
  Status status = WaitRequest(transport_, request, Deadline::After(options_.timeout), what);
  if (!status.ok()) return status.WithContext(StrCat("p2p_perf with peer rank ", peer_));
  return status;
}

// Waits for the first `count` requests of `requests` and `extra` (when not null).
Status P2pBench::WaitWindow(std::vector<Request>& requests, int count, Request* extra,
                            const char* what) {
  waiting_.clear();  // reserved at construction: no allocation per window
  for (int i = 0; i < count; ++i) waiting_.push_back(&requests[static_cast<size_t>(i)]);
  if (extra != nullptr) waiting_.push_back(extra);
  Status status = WaitAll(transport_, waiting_, Deadline::After(options_.timeout), what);
  if (!status.ok()) return status.WithContext(StrCat("p2p_perf with peer rank ", peer_));
  return status;
}

Status P2pBench::PostWindow(std::vector<Request>& requests, int count, size_t bytes, bool send) {
  for (int i = 0; i < count; ++i) {
    Request& request = requests[static_cast<size_t>(i)];
    TIDAL_RETURN_IF_ERROR(
        send ? transport_.PostSend(peer_, kDataTag, send_.data(), bytes, &request)
             : transport_.PostRecv(peer_, kDataTag, recv_.data(), bytes, &request));
  }
  return Status::Ok();
}

Status P2pBench::SendCommand(const Command& command) {
  *command_ = command;
  TIDAL_RETURN_IF_ERROR(
      transport_.PostSend(peer_, kCtrlTag, command_.get(), sizeof(Command), &control_));
  return Wait(control_, "sending a command");
}

Status P2pBench::SendAck(uint64_t value) {
  ack_value_ = value;
  TIDAL_RETURN_IF_ERROR(
      transport_.PostSend(peer_, kAckTag, &ack_value_, sizeof(ack_value_), &ack_));
  return Wait(ack_, "sending an ack");
}

Result<uint64_t> P2pBench::RecvAck(const char* what) {
  TIDAL_RETURN_IF_ERROR(
      transport_.PostRecv(peer_, kAckTag, &ack_value_, sizeof(ack_value_), &ack_));
  TIDAL_RETURN_IF_ERROR(Wait(ack_, what));
  return ack_value_;
}

Result<double> P2pBench::Bandwidth(size_t bytes, int64_t iters) {
  TIDAL_CHECK_LE(bytes, options_.max_bytes);
  TIDAL_RETURN_IF_ERROR(SendCommand({Op::kBandwidth, 0, bytes, static_cast<uint64_t>(iters), 0}));
  TIDAL_RETURN_IF_ERROR(RecvAck("the follower's ready (bandwidth)").status());
  const Clock::time_point start = Clock::now();
  for (int64_t done = 0; done < iters;) {
    const int count = static_cast<int>(std::min<int64_t>(options_.window, iters - done));
    TIDAL_RETURN_IF_ERROR(
        transport_.PostRecv(peer_, kAckTag, &ack_value_, sizeof(ack_value_), &ack_));
    TIDAL_RETURN_IF_ERROR(PostWindow(window_, count, bytes, /*send=*/true));
    TIDAL_RETURN_IF_ERROR(WaitWindow(window_, count, &ack_, "a bandwidth window and its ack"));
    done += count;
  }
  return Seconds(Clock::now() - start).count();
}

Result<double> P2pBench::Latency(size_t bytes, int64_t iters) {
  TIDAL_CHECK_LE(bytes, options_.max_bytes);
  TIDAL_RETURN_IF_ERROR(SendCommand({Op::kLatency, 0, bytes, static_cast<uint64_t>(iters), 0}));
  TIDAL_RETURN_IF_ERROR(RecvAck("the follower's ready (latency)").status());
  Request& send = window_[0];
  Request& recv = ack_;
  const Clock::time_point start = Clock::now();
  for (int64_t i = 0; i < iters; ++i) {
    TIDAL_RETURN_IF_ERROR(transport_.PostRecv(peer_, kDataTag, recv_.data(), bytes, &recv));
    TIDAL_RETURN_IF_ERROR(transport_.PostSend(peer_, kDataTag, send_.data(), bytes, &send));
    TIDAL_RETURN_IF_ERROR(WaitWindow(window_, 1, &recv, "a ping-pong"));
  }
  return Seconds(Clock::now() - start).count();
}

Result<uint64_t> P2pBench::Check(size_t bytes, uint64_t seq) {
  TIDAL_CHECK_LE(bytes, options_.max_bytes);
  TIDAL_RETURN_IF_ERROR(SendCommand({Op::kCheck, 0, bytes, 1, seq}));
  FillPattern(send_.data(), bytes, seq, transport_.rank());
  std::memset(recv_.data(), 0, bytes);
  TIDAL_RETURN_IF_ERROR(RecvAck("the follower's ready (check)").status());
  Request& send = window_[0];
  Request& recv = ack_;
  TIDAL_RETURN_IF_ERROR(transport_.PostRecv(peer_, kDataTag, recv_.data(), bytes, &recv));
  TIDAL_RETURN_IF_ERROR(transport_.PostSend(peer_, kDataTag, send_.data(), bytes, &send));
  TIDAL_RETURN_IF_ERROR(WaitWindow(window_, 1, &recv, "the check exchange"));
  uint64_t wrong = CountWrong(recv_.data(), recv.bytes(), seq, peer_) + (bytes - recv.bytes());
  TIDAL_ASSIGN_OR_RETURN(const uint64_t peer_wrong, RecvAck("the follower's check result"));
  return wrong + peer_wrong;
}

Status P2pBench::Quit() { return SendCommand({Op::kQuit, 0, 0, 0, 0}); }

Status P2pBench::ServeBandwidth(const Command& command) {
  const auto iters = static_cast<int64_t>(command.iters);
  int count = static_cast<int>(std::min<int64_t>(options_.window, iters));
  TIDAL_RETURN_IF_ERROR(PostWindow(window_, count, command.bytes, /*send=*/false));
  TIDAL_RETURN_IF_ERROR(SendAck(0));  // ready: the first window's receives are posted
  for (int64_t done = 0; done < iters;) {
    TIDAL_RETURN_IF_ERROR(WaitWindow(window_, count, nullptr, "a bandwidth window"));
    done += count;
    count = static_cast<int>(std::min<int64_t>(options_.window, iters - done));
    // Post the next window before acking this one, so that every message finds its receive.
    if (count > 0) TIDAL_RETURN_IF_ERROR(PostWindow(window_, count, command.bytes, false));
    TIDAL_RETURN_IF_ERROR(SendAck(0));
  }
  return Status::Ok();
}

Status P2pBench::ServeLatency(const Command& command) {
  Request& recv = window_[0];
  Request& send = ack_;
  TIDAL_RETURN_IF_ERROR(transport_.PostRecv(peer_, kDataTag, recv_.data(), command.bytes, &recv));
  TIDAL_RETURN_IF_ERROR(SendAck(0));
  for (uint64_t i = 0; i < command.iters; ++i) {
    TIDAL_RETURN_IF_ERROR(Wait(recv, "a ping"));
    TIDAL_RETURN_IF_ERROR(transport_.PostSend(peer_, kDataTag, send_.data(), command.bytes, &send));
    if (i + 1 < command.iters) {
      TIDAL_RETURN_IF_ERROR(
          transport_.PostRecv(peer_, kDataTag, recv_.data(), command.bytes, &recv));
    }
    TIDAL_RETURN_IF_ERROR(Wait(send, "a pong"));
  }
  return Status::Ok();
}

Status P2pBench::ServeCheck(const Command& command) {
  Request& recv = window_[0];
  std::memset(recv_.data(), 0, command.bytes);
  TIDAL_RETURN_IF_ERROR(transport_.PostRecv(peer_, kDataTag, recv_.data(), command.bytes, &recv));
  TIDAL_RETURN_IF_ERROR(SendAck(0));
  TIDAL_RETURN_IF_ERROR(Wait(recv, "the check message"));
  const uint64_t wrong =
      CountWrong(recv_.data(), recv.bytes(), command.seq, peer_) + (command.bytes - recv.bytes());
  FillPattern(send_.data(), command.bytes, command.seq, transport_.rank());
  Request& send = window_[0];
  TIDAL_RETURN_IF_ERROR(transport_.PostSend(peer_, kDataTag, send_.data(), command.bytes, &send));
  TIDAL_RETURN_IF_ERROR(Wait(send, "the check reply"));
  return SendAck(wrong);
}

Status P2pBench::Serve(const Command& command, bool* quit) {
  if (command.bytes > options_.max_bytes) {
    return InvalidArgumentError("rank ", transport_.rank(), ": command for ", command.bytes,
                                " bytes exceeds this rank's buffers (", options_.max_bytes,
                                "): run every rank with the same -e");
  }
  switch (command.op) {
    case Op::kBandwidth:
      return ServeBandwidth(command);
    case Op::kLatency:
      return ServeLatency(command);
    case Op::kCheck:
      return ServeCheck(command);
    case Op::kQuit:
      *quit = true;
      return Status::Ok();
  }
  return InternalError("rank ", transport_.rank(), ": unknown command ",
                       static_cast<uint32_t>(command.op), " from rank ", peer_);
}

Status P2pBench::Follow() {
  for (bool quit = false; !quit;) {
    TIDAL_RETURN_IF_ERROR(
        transport_.PostRecv(peer_, kCtrlTag, command_.get(), sizeof(Command), &control_));
    TIDAL_RETURN_IF_ERROR(Wait(control_, "the next command"));
    if (control_.bytes() != sizeof(Command)) {
      return InternalError("rank ", transport_.rank(), ": command of ", control_.bytes(),
                           " bytes from rank ", peer_, ", expected ", sizeof(Command));
    }
    TIDAL_RETURN_IF_ERROR(Serve(*command_, &quit));
  }
  return Status::Ok();
}

}  // namespace tidal::perf
