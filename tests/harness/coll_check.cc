#include "harness/coll_check.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cstring>
#include <memory>
#include <span>
#include <sstream>

#include "harness/coll_data.h"
#include "tidal/coll/collectives.h"
#include "tidal/core/random.h"

namespace tidal::testing {
namespace {

using coll::CollKind;
using coll::DataType;

constexpr uint8_t kSentinel = 0xA5;
// AllToAllV: the pattern index of the block from src to dst starts at dst * kBlockStride.
constexpr size_t kBlockStride = size_t{1} << 28;

size_t Elem(DataType type) { return coll::DataTypeSize(type); }

// Bytes in their own allocation, `offset` bytes past an address aligned for every type (operator
// new: at least 8 bytes, also under ASan), with guard bytes on both sides; filled with the
// sentinel.
class Buffer {
 public:
  Buffer(size_t bytes, size_t offset)
      : storage_(kGuard + offset + bytes + kGuard, kSentinel),
        begin_(kGuard + offset),
        bytes_(bytes) {}

  uint8_t* data() { return storage_.data() + begin_; }
  size_t size() const { return bytes_; }
  std::vector<uint8_t> Copy() const {
    return {storage_.begin() + static_cast<std::ptrdiff_t>(begin_),
            storage_.begin() + static_cast<std::ptrdiff_t>(begin_ + bytes_)};
  }
  bool GuardsIntact() const {
    for (size_t i = 0; i < begin_; ++i) {
      if (storage_[i] != kSentinel) {
        return false;
      }
    }
    for (size_t i = begin_ + bytes_; i < storage_.size(); ++i) {
      if (storage_[i] != kSentinel) {
        return false;
      }
    }
    return true;
  }

 private:
  static constexpr size_t kGuard = 64;  // a multiple of 8: begin_ % 8 == offset % 8
  std::vector<uint8_t> storage_;
  size_t begin_;
  size_t bytes_;
};

coll::CollOptions Options(const CollCase& c) {
  coll::CollOptions options;
  options.algorithm = c.algorithm;
  return options;
}

// Non-fatal data check with the case named.
void ExpectElements(const std::string& desc, DataType type, const void* actual,
                    const void* expected, size_t count, const char* what) {
  const std::string diff = CompareElements(type, actual, expected, count);
  EXPECT_EQ(diff, "") << desc << ": " << what;
}

void ExpectGuards(const std::string& desc, const Buffer& buffer, const char* name) {
  EXPECT_TRUE(buffer.GuardsIntact())
      << desc << ": bytes around the " << name << " buffer were written";
}

#define CHECK_STATUS_OR_RETURN(desc, expr)                                       \
  do {                                                                           \
    const Status& check_st_ = (expr);                                            \
    ASSERT_TRUE(check_st_.ok()) << (desc) << ": " << #expr << ": " << check_st_; \
  } while (0)

void RunAllReduce(Communicator& comm, const CollCase& c, const std::string& desc,
                  const std::vector<uint8_t>& expected) {
  const size_t bytes = c.count * Elem(c.type);
  Buffer send(bytes, c.send_offset);
  FillInput(c.type, c.op, comm.rank(), comm.size(), 0, c.count, send.data());
  const std::vector<uint8_t> input = send.Copy();
  Buffer recv(c.in_place ? 0 : bytes, c.recv_offset);
  uint8_t* out = c.in_place ? send.data() : recv.data();
  CHECK_STATUS_OR_RETURN(
      desc, coll::AllReduce(comm, send.data(), out, c.count, c.type, c.op, Options(c)));
  ExpectElements(desc, c.type, out, expected.data(), c.count, "result");
  if (!c.in_place) {
    ExpectElements(desc, c.type, send.data(), input.data(), c.count, "send buffer");
  }
  ExpectGuards(desc, send, "send");
  ExpectGuards(desc, recv, "recv");
}

void RunReduceScatter(Communicator& comm, const CollCase& c, const std::string& desc,
                      const std::vector<uint8_t>& expected) {
  const auto n = static_cast<size_t>(comm.size());
  const size_t elem = Elem(c.type);
  const size_t mine = static_cast<size_t>(comm.rank()) * c.count * elem;
  Buffer send(n * c.count * elem, c.send_offset);
  FillInput(c.type, c.op, comm.rank(), comm.size(), 0, n * c.count, send.data());
  const std::vector<uint8_t> input = send.Copy();
  Buffer recv(c.in_place ? 0 : c.count * elem, c.recv_offset);
  uint8_t* out = c.in_place ? send.data() + mine : recv.data();
  CHECK_STATUS_OR_RETURN(
      desc, coll::ReduceScatter(comm, send.data(), out, c.count, c.type, c.op, Options(c)));
  ExpectElements(desc, c.type, out, expected.data() + mine, c.count, "result");
  if (!c.in_place) {
    ExpectElements(desc, c.type, send.data(), input.data(), n * c.count, "send buffer");
  }
  ExpectGuards(desc, send, "send");
  ExpectGuards(desc, recv, "recv");
}

void RunReduce(Communicator& comm, const CollCase& c, const std::string& desc,
               const std::vector<uint8_t>& expected) {
  const size_t bytes = c.count * Elem(c.type);
  const bool root = comm.rank() == c.root;
  Buffer send(bytes, c.send_offset);
  FillInput(c.type, c.op, comm.rank(), comm.size(), 0, c.count, send.data());
  const std::vector<uint8_t> input = send.Copy();
  Buffer recv(c.in_place ? 0 : bytes, c.recv_offset);
  uint8_t* out = c.in_place ? send.data() : recv.data();
  CHECK_STATUS_OR_RETURN(
      desc, coll::Reduce(comm, send.data(), out, c.count, c.type, c.op, c.root, Options(c)));
  if (root) {
    ExpectElements(desc, c.type, out, expected.data(), c.count, "root's result");
    if (!c.in_place) {
      ExpectElements(desc, c.type, send.data(), input.data(), c.count, "send");
    }
  } else {
    // Neither the send buffer nor (out of place) the recv buffer of a non-root is written.
    ExpectElements(desc, c.type, send.data(), input.data(), c.count, "non-root's send buffer");
    const std::vector<uint8_t> untouched(recv.size(), kSentinel);
    EXPECT_EQ(recv.Copy(), untouched) << desc << ": a non-root's recv buffer was written";
  }
  ExpectGuards(desc, send, "send");
  ExpectGuards(desc, recv, "recv");
}

// AllGather and AllGatherV: rank r's block is Pattern(type, r, 0, counts[r]) at displs[r].
void RunGather(Communicator& comm, const CollCase& c, const std::string& desc) {
  const int n = comm.size();
  const size_t elem = Elem(c.type);
  const bool v = c.kind == CollKind::kAllGatherV;
  std::vector<size_t> counts(static_cast<size_t>(n));
  std::vector<size_t> displs(static_cast<size_t>(n));
  size_t total = 0;
  for (int r = 0; r < n; ++r) {
    counts[r] = v ? GatherVCount(r, c.count) : c.count;
  }
  if (v && c.gaps) {
    total = 1;  // a leading gap, then blocks in reverse rank order with gaps of 2
    for (int r = n - 1; r >= 0; --r) {
      displs[r] = total;
      total += counts[r] + 2;
    }
  } else {
    for (int r = 0; r < n; ++r) {
      displs[r] = total;
      total += counts[r];
    }
  }
  std::vector<uint8_t> image(total * elem, kSentinel);
  for (int r = 0; r < n; ++r) {
    FillPattern(c.type, r, 0, counts[r], image.data() + displs[r] * elem);
  }
  const size_t me = static_cast<size_t>(comm.rank());
  Buffer recv(total * elem, c.recv_offset);
  Buffer send(c.in_place ? 0 : counts[me] * elem, c.send_offset);
  uint8_t* in = c.in_place ? recv.data() + displs[me] * elem : send.data();
  FillPattern(c.type, comm.rank(), 0, counts[me], in);
  const std::vector<uint8_t> input = send.Copy();
  if (v) {
    const std::span<const size_t> displs_arg =
        c.gaps ? std::span<const size_t>(displs) : std::span<const size_t>();
    CHECK_STATUS_OR_RETURN(desc, coll::AllGatherV(comm, in, counts[me], recv.data(), counts,
                                                  displs_arg, c.type, Options(c)));
  } else {
    CHECK_STATUS_OR_RETURN(desc,
                           coll::AllGather(comm, in, recv.data(), c.count, c.type, Options(c)));
  }
  ExpectElements(desc, c.type, recv.data(), image.data(), total, "result (gaps included)");
  if (!c.in_place) {
    ExpectElements(desc, c.type, send.data(), input.data(), counts[me], "send");
  }
  ExpectGuards(desc, send, "send");
  ExpectGuards(desc, recv, "recv");
}

void RunBroadcast(Communicator& comm, const CollCase& c, const std::string& desc) {
  const size_t bytes = c.count * Elem(c.type);
  const bool root = comm.rank() == c.root;
  const std::vector<uint8_t> data = Pattern(c.type, c.root, 0, c.count);
  Buffer recv(bytes, c.recv_offset);
  Buffer send(c.in_place || !root ? 0 : bytes, c.send_offset);
  const void* in = nullptr;  // non-roots' send is ignored: null out of place
  if (c.in_place) {
    in = recv.data();
    if (root && bytes > 0) {
      std::memcpy(recv.data(), data.data(), bytes);
    }
  } else if (root) {
    in = send.data();
    if (bytes > 0) {
      std::memcpy(send.data(), data.data(), bytes);
    }
  }
  CHECK_STATUS_OR_RETURN(
      desc, coll::Broadcast(comm, in, recv.data(), c.count, c.type, c.root, Options(c)));
  ExpectElements(desc, c.type, recv.data(), data.data(), c.count, "result");
  if (root && !c.in_place) {
    ExpectElements(desc, c.type, send.data(), data.data(), c.count, "send");
  }
  ExpectGuards(desc, send, "send");
  ExpectGuards(desc, recv, "recv");
}

// AllToAll and AllToAllV: the block from src to dst is Pattern(type, src, dst * kBlockStride, .).
void RunAllToAll(Communicator& comm, const CollCase& c, const std::string& desc) {
  const int n = comm.size();
  const int me = comm.rank();
  const size_t elem = Elem(c.type);
  const bool v = c.kind == CollKind::kAllToAllV;
  std::vector<size_t> send_counts(static_cast<size_t>(n));
  std::vector<size_t> recv_counts(static_cast<size_t>(n));
  std::vector<size_t> send_displs(static_cast<size_t>(n));
  std::vector<size_t> recv_displs(static_cast<size_t>(n));
  const size_t gap = v && c.gaps ? 1 : 0;
  size_t send_total = 0;
  for (int d = 0; d < n; ++d) {
    send_counts[d] = v ? AllToAllVCount(me, d, c.count) : c.count;
    send_displs[d] = send_total;
    send_total += send_counts[d] + gap;
  }
  size_t recv_total = gap;
  for (int k = 0; k < n; ++k) {
    const int s = v && c.gaps ? n - 1 - k : k;  // with gaps: blocks in reverse rank order
    recv_counts[s] = v ? AllToAllVCount(s, me, c.count) : c.count;
    recv_displs[s] = recv_total;
    recv_total += recv_counts[s] + gap;
  }
  Buffer send(send_total * elem, c.send_offset);
  for (int d = 0; d < n; ++d) {
    FillPattern(c.type, me, static_cast<size_t>(d) * kBlockStride, send_counts[d],
                send.data() + send_displs[d] * elem);
  }
  const std::vector<uint8_t> input = send.Copy();
  std::vector<uint8_t> image(recv_total * elem, kSentinel);
  for (int s = 0; s < n; ++s) {
    FillPattern(c.type, s, static_cast<size_t>(me) * kBlockStride, recv_counts[s],
                image.data() + recv_displs[s] * elem);
  }
  // In place (AllToAll only): recv is the send buffer, whose layout it shares.
  const bool in_place = c.in_place && !v;
  Buffer recv(in_place ? 0 : recv_total * elem, c.recv_offset);
  uint8_t* out = in_place ? send.data() : recv.data();
  if (v) {
    CHECK_STATUS_OR_RETURN(desc, coll::AllToAllV(comm, send.data(), send_counts, send_displs, out,
                                                 recv_counts, recv_displs, c.type, Options(c)));
  } else {
    CHECK_STATUS_OR_RETURN(desc,
                           coll::AllToAll(comm, send.data(), out, c.count, c.type, Options(c)));
  }
  ExpectElements(desc, c.type, out, image.data(), recv_total, "result (gaps included)");
  if (!in_place) {
    ExpectElements(desc, c.type, send.data(), input.data(), send_total, "send buffer");
  }
  ExpectGuards(desc, send, "send");
  ExpectGuards(desc, recv, "recv");
}

void RunSendRecvRing(Communicator& comm, const CollCase& c, const std::string& desc) {
  const int n = comm.size();
  const int next = (comm.rank() + 1) % n;
  const int prev = (comm.rank() + n - 1) % n;
  const size_t bytes = c.count * Elem(c.type);
  const auto tag = static_cast<uint32_t>(c.type) + 1;
  Buffer send(bytes, c.send_offset);
  FillPattern(c.type, comm.rank(), 0, c.count, send.data());
  Buffer recv(bytes, c.recv_offset);
  Result<Work> sent = coll::SendAsync(comm, send.data(), c.count, c.type, next, tag);
  CHECK_STATUS_OR_RETURN(desc, sent.status());
  const Status received = coll::Recv(comm, recv.data(), c.count, c.type, prev, tag);
  const Status send_done = sent->Wait();  // before `send` goes, whatever Recv returned
  CHECK_STATUS_OR_RETURN(desc, received);
  CHECK_STATUS_OR_RETURN(desc, send_done);
  const std::vector<uint8_t> data = Pattern(c.type, prev, 0, c.count);
  ExpectElements(desc, c.type, recv.data(), data.data(), c.count, "received");
  ExpectGuards(desc, recv, "recv");
}

}  // namespace

bool IsReduction(CollKind kind) {
  return kind == CollKind::kAllReduce || kind == CollKind::kReduceScatter ||
         kind == CollKind::kReduce;
}

std::string Describe(const CollCase& c, int n) {
  std::ostringstream os;
  os << coll::CollKindName(c.kind) << " n=" << n << " " << coll::DataTypeName(c.type);
  if (IsReduction(c.kind)) {
    os << " " << coll::ReduceOpName(c.op);
  }
  os << " count=" << c.count << " algo=" << coll::AlgorithmName(c.algorithm);
  if (c.kind == CollKind::kBroadcast || c.kind == CollKind::kReduce) {
    os << " root=" << c.root;
  }
  os << (c.in_place ? " in-place" : " out-of-place");
  if (c.gaps) {
    os << " gaps";
  }
  if (c.send_offset != 0) {
    os << " send+" << c.send_offset << "B";
  }
  if (c.recv_offset != 0) {
    os << " recv+" << c.recv_offset << "B";
  }
  os << (NeedsOneHost(c) ? " one-host" : " two-hosts");
  return os.str();
}

size_t ReferenceCount(const CollCase& c, int n) {
  return c.kind == CollKind::kReduceScatter ? static_cast<size_t>(n) * c.count : c.count;
}

size_t GatherVCount(int rank, size_t count) {
  if (count == 0 || rank % 3 == 1) {
    return 0;
  }
  return count + static_cast<size_t>(rank);
}

size_t AllToAllVCount(int src, int dst, size_t count) {
  if (count == 0 || (src + 2 * dst) % 4 == 1) {
    return 0;
  }
  return count + static_cast<size_t>((src + 3 * dst) % 5);
}

void RunCollective(Communicator& comm, const CollCase& c, const std::vector<uint8_t>* expected) {
  const std::string desc = Describe(c, comm.size());
  std::vector<uint8_t> computed;
  if (IsReduction(c.kind)) {
    if (expected == nullptr) {
      computed = Expected(c.type, c.op, comm.size(), 0, ReferenceCount(c, comm.size()));
      expected = &computed;
    }
    ASSERT_EQ(expected->size(), ReferenceCount(c, comm.size()) * Elem(c.type)) << desc;
  }
  switch (c.kind) {
    case CollKind::kAllReduce:
      return RunAllReduce(comm, c, desc, *expected);
    case CollKind::kReduceScatter:
      return RunReduceScatter(comm, c, desc, *expected);
    case CollKind::kReduce:
      return RunReduce(comm, c, desc, *expected);
    case CollKind::kAllGather:
    case CollKind::kAllGatherV:
      return RunGather(comm, c, desc);
    case CollKind::kBroadcast:
      return RunBroadcast(comm, c, desc);
    case CollKind::kAllToAll:
    case CollKind::kAllToAllV:
      return RunAllToAll(comm, c, desc);
    case CollKind::kBarrier:
      CHECK_STATUS_OR_RETURN(desc, coll::Barrier(comm, Options(c)));
      return;
    case CollKind::kSend:
    case CollKind::kRecv:
      return RunSendRecvRing(comm, c, desc);
  }
}

bool NeedsOneHost(coll::Algorithm algorithm) { return algorithm == coll::Algorithm::kShm; }

bool NeedsOneHost(const CollCase& c) { return c.one_host || NeedsOneHost(c.algorithm); }

CommSetup SetupFor(coll::Algorithm algorithm) {
  CommSetup setup;
  setup.layout = NeedsOneHost(algorithm) ? Layout::kOneHost : Layout::kInterleaved;
  return setup;
}

bool Runnable(coll::Algorithm algorithm, int n) {
  // hier needs equal ranks per host: on the two interleaved hosts, an even n (or a single rank).
  if (algorithm == coll::Algorithm::kHier) return n == 1 || n % 2 == 0;
  return !NeedsOneHost(algorithm) || n >= 2;
}

std::vector<coll::Algorithm> AlgorithmsWithAuto(CollKind kind, int n) {
  std::vector<coll::Algorithm> all{coll::Algorithm::kAuto};
  for (coll::Algorithm a : coll::AlgorithmsFor(kind)) {
    if (Runnable(a, n)) {
      all.push_back(a);
    }
  }
  return all;
}

void RunCases(const WorldOptions& world, const std::vector<CollCase>& cases,
              const std::map<size_t, std::vector<uint8_t>>& expected) {
  for (bool one_host : {false, true}) {
    std::vector<size_t> mine;
    for (size_t k = 0; k < cases.size(); ++k) {
      if (NeedsOneHost(cases[k]) == one_host) {
        mine.push_back(k);
      }
    }
    if (mine.empty() || ::testing::Test::HasFailure()) {
      continue;
    }
    CommSetup setup;
    setup.layout = one_host ? Layout::kOneHost : Layout::kInterleaved;
    RunWorld(world, [&](RankEnv& env) {
      std::unique_ptr<Communicator> comm = MakeCommunicator(env, setup);
      ASSERT_NE(comm, nullptr);
      for (size_t k : mine) {
        const auto it = expected.find(k);
        RunCollective(*comm, cases[k], it == expected.end() ? nullptr : &it->second);
        if (::testing::Test::HasFailure()) {
          return;
        }
      }
    });
  }
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  if (const char* old = getenv(name)) {  // NOLINT(concurrency-mt-unsafe)
    old_ = old;
    had_ = true;
  }
  setenv(name, value, 1);  // NOLINT(concurrency-mt-unsafe)
}

ScopedEnv::~ScopedEnv() {
  if (had_) {
    setenv(name_, old_.c_str(), 1);  // NOLINT(concurrency-mt-unsafe)
  } else {
    unsetenv(name_);  // NOLINT(concurrency-mt-unsafe)
  }
}

void ExpectSameEverywhere(Communicator& comm, const void* data, size_t bytes) {
  uint64_t mine = 0x1234;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < bytes; ++i) mine = MixBits(mine ^ p[i]);
  std::vector<uint64_t> all(static_cast<size_t>(comm.size()));
  ASSERT_OK(coll::AllGather(comm, &mine, all.data(), 1, coll::DataType::kInt64));
  for (int r = 0; r < comm.size(); ++r) {
    EXPECT_EQ(all[static_cast<size_t>(r)], all[0]) << "rank " << r << " differs from rank 0";
  }
}

}  // namespace tidal::testing
