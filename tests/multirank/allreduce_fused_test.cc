// The fused on-host AllReduce protocol (shm/shm_allreduce.h): a plain AllReduce reduces and
// publishes each piece in two rounds, reading its own contribution from `send` and writing the
// results straight into `recv` (with streaming stores above TIDAL_SHM_STREAM_BYTES). Covered
// here: many rounds over both slot sets (4 KiB slots), queued behind and ahead of owned-shard
// operations (the two-phase protocol) and one-shot ones on the same round counter; in place, out
// of place, a send buffer that is not element-aligned; sum and avg; fp16 bit-identity; streaming
// stores always, never, and from a threshold that splits the operations.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "harness/coll_check.h"
#include "harness/coll_data.h"
#include "harness/comm_world.h"
#include "harness/world.h"
#include "tidal/coll/collectives.h"
#include "tidal/coll/half.h"

namespace tidal::coll {
namespace {

using testing::ExpectSameEverywhere;
using testing::MakeOneHostCommunicator;
using testing::RankEnv;
using testing::RunWorld;
using testing::WorldOptions;

struct Case {
  int n;
  const char* stream;   // TIDAL_SHM_STREAM_BYTES
  const char* reducer;  // TIDAL_SHM_REDUCER: the one-shot operations of the queue
};

class FusedTest : public ::testing::TestWithParam<Case> {
 private:
  testing::ScopedEnv slot_{"TIDAL_SHM_SLOT_BYTES", "4096"};
  testing::ScopedEnv stream_{"TIDAL_SHM_STREAM_BYTES", GetParam().stream};
  testing::ScopedEnv reducer_{"TIDAL_SHM_REDUCER", GetParam().reducer};
};

WorldOptions World(int n) {
  WorldOptions world;
  world.size = n;
  return world;
}

// One operation of the mixed queue below.
struct Op {
  size_t count;
  ReduceOp op;
  bool owned;
  bool in_place;
  bool misaligned_send;  // the send buffer starts one byte past an element boundary
};

TEST_P(FusedTest, MixedQueueMatchesTheClosedForm) {
  const int n = GetParam().n;
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeOneHostCommunicator(env);
    ASSERT_NE(comm, nullptr);
    const std::vector<Op> ops = {
        {70001, ReduceOp::kSum, false, true, false}, {10007, ReduceOp::kAvg, true, false, false},
        {3, ReduceOp::kSum, false, true, false},     {40961, ReduceOp::kAvg, false, false, true},
        {1, ReduceOp::kSum, false, false, false},    {30011, ReduceOp::kSum, false, false, false},
        {5003, ReduceOp::kSum, true, true, false},   {0, ReduceOp::kSum, false, true, false},
        {20000, ReduceOp::kAvg, false, true, false}, {5, ReduceOp::kAvg, false, false, true},
    };
    // Each operation's send bytes (the harness's closed-form data, exact in fp32 whatever the
    // order) live at offset 0 or 1 of a byte buffer; recv is float-aligned.
    std::vector<std::vector<uint8_t>> sends;
    std::vector<std::vector<float>> recvs;
    std::vector<Work> works;
    for (const Op& op : ops) {
      const size_t shift = op.misaligned_send ? 1 : 0;
      sends.emplace_back(op.count * sizeof(float) + shift);
      recvs.emplace_back(op.count, -1.0f);
      testing::FillInput(DataType::kFloat32, op.op, env.rank(), n, 0, op.count,
                         sends.back().data() + shift);
      if (op.in_place && op.count > 0) {  // an empty vector's data() may be null
        std::memcpy(recvs.back().data(), sends.back().data() + shift, op.count * sizeof(float));
      }
      const void* send =
          op.in_place ? static_cast<const void*>(recvs.back().data()) : sends.back().data() + shift;
      Result<Work> w = op.owned ? AllReduceOwnedAsync(*comm, send, recvs.back().data(), op.count,
                                                      DataType::kFloat32, op.op, nullptr)
                                : AllReduceAsync(*comm, send, recvs.back().data(), op.count,
                                                 DataType::kFloat32, op.op);
      ASSERT_OK(w);
      works.push_back(std::move(w).value());
    }
    for (size_t k = 0; k < ops.size(); ++k) {
      ASSERT_OK(works[k].Wait());
      const std::vector<uint8_t> want =
          testing::Expected(DataType::kFloat32, ops[k].op, n, 0, ops[k].count);
      ASSERT_EQ(
          testing::CompareElements(DataType::kFloat32, recvs[k].data(), want.data(), ops[k].count),
          "")
          << "operation " << k;
      ExpectSameEverywhere(*comm, recvs[k].data(), ops[k].count * sizeof(float));
    }
  });
}

// fp16 rounds at every step of the reduction: every owner must use the same (rank) order, and
// every rank must end with the owner's bits.
TEST_P(FusedTest, HalfPrecisionIsBitIdentical) {
  const int n = GetParam().n;
  RunWorld(World(n), [&](RankEnv& env) {
    std::unique_ptr<Communicator> comm = MakeOneHostCommunicator(env);
    ASSERT_NE(comm, nullptr);
    std::vector<uint16_t> x(40001);  // 80 KB: past the one-shot sizes
    for (size_t i = 0; i < x.size(); ++i) {
      x[i] = FloatToHalf(0.1f * static_cast<float>(env.rank() + 1) + 0.37f * static_cast<float>(i));
    }
    for (int round = 0; round < 2; ++round) {
      ASSERT_OK(AllReduce(*comm, x.data(), x.data(), x.size(), DataType::kFloat16, ReduceOp::kSum));
      ExpectSameEverywhere(*comm, x.data(), x.size() * sizeof(uint16_t));
    }
  });
}

INSTANTIATE_TEST_SUITE_P(Ranks, FusedTest,
                         ::testing::Values(Case{2, "0", "every"}, Case{2, "-1", "last"},
                                           Case{3, "-1", "every"}, Case{3, "0", "last"},
                                           Case{4, "100000", "every"}, Case{4, "0", "last"},
                                           Case{5, "0", "every"}, Case{5, "100000", "last"},
                                           Case{8, "100000", "every"}, Case{8, "-1", "last"}),
                         [](const ::testing::TestParamInfo<Case>& param) {
                           const std::string stream = param.param.stream;
                           return "n" + std::to_string(param.param.n) + "_stream_" +
                                  (stream == "-1" ? std::string("never") : stream) + "_" +
                                  param.param.reducer;
                         });

}  // namespace
}  // namespace tidal::coll
