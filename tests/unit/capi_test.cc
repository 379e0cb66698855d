// tidal.h in one process, without a launcher: tidal_comm_init_from_env gives a world of one rank.
// Mostly error paths: NULL handles and out-pointers, enum values the header does not define
// (within the C++ enums' uint8_t, which the collectives reject, and beyond it, which the C layer
// rejects before any cast), NULL buffers with a count, roots and peers out of range. Each must
// return TIDAL_ERR_INVALID_ARGUMENT, never crash, and leave a last error that starts with the C
// function's name. Then the collectives in the world of one, and the work handles' contract.
#include <gtest/gtest.h>
#include <tidal.h>

#include <climits>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

// Sets the last error to one of two different messages. EXPECT_INVALID runs its call after each,
// so that a check cannot pass on a stale message.
void Clobber(int which) {
  if (which == 0) {
    (void)tidal_comm_split(nullptr, 0, 0, nullptr);
  } else {
    (void)tidal_work_wait(nullptr);
  }
}

// `result` is TIDAL_ERR_INVALID_ARGUMENT and the last error starts with "<fn>: " and contains
// `detail`.
::testing::AssertionResult Invalid(tidal_result_t result, const std::string& fn,
                                   const std::string& detail) {
  const std::string error = tidal_last_error();
  if (result != TIDAL_ERR_INVALID_ARGUMENT) {
    return ::testing::AssertionFailure()
           << fn << " returned " << tidal_status_string(result) << "; last error: " << error;
  }
  if (error.rfind(fn + ": ", 0) != 0 || error.find(detail) == std::string::npos) {
    return ::testing::AssertionFailure() << "last error '" << error << "' does not start with '"
                                         << fn << ": ' or lacks '" << detail << "'";
  }
  return ::testing::AssertionSuccess();
}

#define EXPECT_INVALID(call, fn, detail)                     \
  do {                                                       \
    for (int clobber_ = 0; clobber_ < 2; ++clobber_) {       \
      Clobber(clobber_);                                     \
      const tidal_result_t result_ = (call);                 \
      EXPECT_TRUE(Invalid(result_, fn, detail)) << "" #call; \
    }                                                        \
  } while (0)

// A named call, for table-driven checks.
struct Call {
  std::string fn;
  std::function<tidal_result_t()> run;
};

// A non-NULL work pointer that the failing _async calls must reset to NULL (never dereferenced).
tidal_work_t Garbage() {
  static int not_a_work = 0;
  return reinterpret_cast<tidal_work_t>(&not_a_work);
}

class CapiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const tidal_result_t result = tidal_comm_init_from_env(&world);
    ASSERT_EQ(result, TIDAL_OK) << tidal_last_error();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(tidal_comm_destroy(world), TIDAL_OK);
    world = nullptr;
  }
  void SetUp() override { ASSERT_NE(world, nullptr) << "tidal_comm_init_from_env failed"; }

  // Every call that takes a tidal_datatype_t, on `comm` with valid buffers and `type`.
  std::vector<Call> TypedCalls(tidal_comm_t comm, tidal_datatype_t type) {
    return {
        {"tidal_allreduce",
         [=, this] { return tidal_allreduce(comm, a_, b_, 4, type, TIDAL_OP_SUM); }},
        {"tidal_allreduce_async",
         [=, this] { return tidal_allreduce_async(comm, a_, b_, 4, type, TIDAL_OP_SUM, &work_); }},
        {"tidal_reduce_scatter",
         [=, this] { return tidal_reduce_scatter(comm, a_, b_, 4, type, TIDAL_OP_SUM); }},
        {"tidal_reduce_scatter_async",
         [=, this] {
           return tidal_reduce_scatter_async(comm, a_, b_, 4, type, TIDAL_OP_SUM, &work_);
         }},
        {"tidal_allgather", [=, this] { return tidal_allgather(comm, a_, b_, 4, type); }},
        {"tidal_allgather_async",
         [=, this] { return tidal_allgather_async(comm, a_, b_, 4, type, &work_); }},
        {"tidal_allgatherv",
         [=, this] { return tidal_allgatherv(comm, a_, 4, b_, counts_, nullptr, type); }},
        {"tidal_allgatherv_async",
         [=, this] {
           return tidal_allgatherv_async(comm, a_, 4, b_, counts_, displs_, type, &work_);
         }},
        {"tidal_broadcast", [=, this] { return tidal_broadcast(comm, a_, b_, 4, type, 0); }},
        {"tidal_broadcast_async",
         [=, this] { return tidal_broadcast_async(comm, a_, b_, 4, type, 0, &work_); }},
        {"tidal_reduce",
         [=, this] { return tidal_reduce(comm, a_, b_, 4, type, TIDAL_OP_SUM, 0); }},
        {"tidal_reduce_async",
         [=, this] { return tidal_reduce_async(comm, a_, b_, 4, type, TIDAL_OP_SUM, 0, &work_); }},
        {"tidal_alltoall", [=, this] { return tidal_alltoall(comm, a_, b_, 4, type); }},
        {"tidal_alltoall_async",
         [=, this] { return tidal_alltoall_async(comm, a_, b_, 4, type, &work_); }},
        {"tidal_alltoallv",
         [=, this] {
           return tidal_alltoallv(comm, a_, counts_, displs_, b_, counts_, displs_, type);
         }},
        {"tidal_alltoallv_async",
         [=, this] {
           return tidal_alltoallv_async(comm, a_, counts_, displs_, b_, counts_, displs_, type,
                                        &work_);
         }},
        {"tidal_send", [=, this] { return tidal_send(comm, a_, 4, type, 0, 0); }},
        {"tidal_send_async",
         [=, this] { return tidal_send_async(comm, a_, 4, type, 0, 0, &work_); }},
        {"tidal_recv", [=, this] { return tidal_recv(comm, b_, 4, type, 0, 0); }},
        {"tidal_recv_async",
         [=, this] { return tidal_recv_async(comm, b_, 4, type, 0, 0, &work_); }},
    };
  }

  // Every call that takes a tidal_redop_t.
  std::vector<Call> ReducingCalls(tidal_redop_t op) {
    return {
        {"tidal_allreduce", [=, this] { return tidal_allreduce(world, a_, b_, 4, kF32, op); }},
        {"tidal_allreduce_async",
         [=, this] { return tidal_allreduce_async(world, a_, b_, 4, kF32, op, &work_); }},
        {"tidal_reduce_scatter",
         [=, this] { return tidal_reduce_scatter(world, a_, b_, 4, kF32, op); }},
        {"tidal_reduce_scatter_async",
         [=, this] { return tidal_reduce_scatter_async(world, a_, b_, 4, kF32, op, &work_); }},
        {"tidal_reduce", [=, this] { return tidal_reduce(world, a_, b_, 4, kF32, op, 0); }},
        {"tidal_reduce_async",
         [=, this] { return tidal_reduce_async(world, a_, b_, 4, kF32, op, 0, &work_); }},
    };
  }

  // Runs each call expecting TIDAL_ERR_INVALID_ARGUMENT mentioning `detail`, and a NULL work.
  void ExpectAllInvalid(const std::vector<Call>& calls, const std::string& detail) {
    for (const Call& call : calls) {
      work_ = Garbage();
      EXPECT_INVALID(call.run(), call.fn, detail);
      EXPECT_TRUE(work_ == nullptr || call.fn.find("_async") == std::string::npos)
          << call.fn << " left *work set after failing";
    }
  }

  static constexpr tidal_datatype_t kF32 = TIDAL_DTYPE_FLOAT32;
  static tidal_comm_t world;
  float a_[4] = {1, 2, 3, 4};
  float b_[4] = {};
  size_t counts_[1] = {4};
  size_t displs_[1] = {0};
  tidal_work_t work_ = nullptr;
};

tidal_comm_t CapiTest::world = nullptr;

TEST_F(CapiTest, AloneTheWorldHasOneRank) {
  int rank = -1, size = -1, local_rank = -1, local_size = -1;
  ASSERT_EQ(tidal_comm_rank(world, &rank), TIDAL_OK);
  ASSERT_EQ(tidal_comm_size(world, &size), TIDAL_OK);
  ASSERT_EQ(tidal_comm_local_rank(world, &local_rank), TIDAL_OK);
  ASSERT_EQ(tidal_comm_local_size(world, &local_size), TIDAL_OK);
  EXPECT_EQ(rank, 0);
  EXPECT_EQ(size, 1);
  EXPECT_EQ(local_rank, 0);
  EXPECT_EQ(local_size, 1);
}

TEST_F(CapiTest, NullCommIsInvalidEverywhere) {
  int x = 0;
  tidal_comm_t out = world;
  EXPECT_INVALID(tidal_comm_rank(nullptr, &x), "tidal_comm_rank", "comm is NULL");
  EXPECT_INVALID(tidal_comm_size(nullptr, &x), "tidal_comm_size", "comm is NULL");
  EXPECT_INVALID(tidal_comm_local_rank(nullptr, &x), "tidal_comm_local_rank", "comm is NULL");
  EXPECT_INVALID(tidal_comm_local_size(nullptr, &x), "tidal_comm_local_size", "comm is NULL");
  EXPECT_INVALID(tidal_comm_split(nullptr, 0, 0, &out), "tidal_comm_split", "comm is NULL");
  EXPECT_EQ(out, nullptr);
  EXPECT_INVALID(tidal_comm_abort(nullptr, "why"), "tidal_comm_abort", "comm is NULL");
  EXPECT_INVALID(tidal_comm_set_timeout(nullptr, 10), "tidal_comm_set_timeout", "comm is NULL");
  EXPECT_INVALID(tidal_comm_set_algorithm(nullptr, TIDAL_ALGO_AUTO), "tidal_comm_set_algorithm",
                 "comm is NULL");
  ExpectAllInvalid(TypedCalls(nullptr, kF32), "comm is NULL");
  EXPECT_INVALID(tidal_barrier(nullptr), "tidal_barrier", "comm is NULL");
  work_ = Garbage();
  EXPECT_INVALID(tidal_barrier_async(nullptr, &work_), "tidal_barrier_async", "comm is NULL");
  EXPECT_EQ(work_, nullptr);
}

TEST_F(CapiTest, NullOutPointersAreInvalid) {
  EXPECT_INVALID(tidal_comm_init_from_env(nullptr), "tidal_comm_init_from_env", "out is NULL");
  EXPECT_INVALID(tidal_comm_rank(world, nullptr), "tidal_comm_rank", "out-pointer is NULL");
  EXPECT_INVALID(tidal_comm_local_size(world, nullptr), "tidal_comm_local_size",
                 "out-pointer is NULL");
  EXPECT_INVALID(tidal_comm_split(world, 0, 0, nullptr), "tidal_comm_split", "out is NULL");
  EXPECT_INVALID(tidal_allreduce_async(world, a_, b_, 4, kF32, TIDAL_OP_SUM, nullptr),
                 "tidal_allreduce_async", "work is NULL");
  EXPECT_INVALID(tidal_barrier_async(world, nullptr), "tidal_barrier_async", "work is NULL");
  EXPECT_INVALID(tidal_recv_async(world, b_, 4, kF32, 0, 0, nullptr), "tidal_recv_async",
                 "work is NULL");
  int done = 0;
  EXPECT_INVALID(tidal_work_wait(nullptr), "tidal_work_wait", "work is NULL");
  EXPECT_INVALID(tidal_work_wait_timeout(nullptr, 5), "tidal_work_wait_timeout", "work is NULL");
  EXPECT_INVALID(tidal_work_test(nullptr, &done), "tidal_work_test", "work is NULL");
}

TEST_F(CapiTest, UnknownDataTypeIsInvalidForEveryTypedCall) {
  // 8..255 reach the collectives as DataType values they must reject; the rest never fit the
  // C++ enum and are rejected by the C layer.
  for (const int value : {8, 99, 255, 256, 300, -1, INT_MAX, INT_MIN}) {
    SCOPED_TRACE(value);
    ExpectAllInvalid(TypedCalls(world, static_cast<tidal_datatype_t>(value)),
                     "data type " + std::to_string(value));
  }  // Both layers' messages name the rank and the operation.
  for (const int value : {99, 300}) {
    EXPECT_INVALID(
        tidal_allreduce(world, a_, b_, 4, static_cast<tidal_datatype_t>(value), TIDAL_OP_SUM),
        "tidal_allreduce", "rank 0: allreduce: unknown data type " + std::to_string(value));
    EXPECT_INVALID(tidal_reduce(world, a_, b_, 4, kF32, static_cast<tidal_redop_t>(value), 0),
                   "tidal_reduce", "rank 0: reduce: unknown reduction op " + std::to_string(value));
  }
}

TEST_F(CapiTest, UnknownReduceOpIsInvalidForEveryReducingCall) {
  for (const int value : {5, 99, 255, 256, -1, INT_MAX}) {
    SCOPED_TRACE(value);
    ExpectAllInvalid(ReducingCalls(static_cast<tidal_redop_t>(value)),
                     "reduction op " + std::to_string(value));
  }
}

TEST_F(CapiTest, NullBufferWithCountIsInvalid) {
  ExpectAllInvalid(
      {
          {"tidal_allreduce",
           [this] { return tidal_allreduce(world, nullptr, b_, 4, kF32, TIDAL_OP_SUM); }},
          {"tidal_allreduce",
           [this] { return tidal_allreduce(world, a_, nullptr, 4, kF32, TIDAL_OP_SUM); }},
          {"tidal_allreduce_async",
           [this] {
             return tidal_allreduce_async(world, nullptr, b_, 4, kF32, TIDAL_OP_SUM, &work_);
           }},
          {"tidal_reduce_scatter",
           [this] { return tidal_reduce_scatter(world, a_, nullptr, 4, kF32, TIDAL_OP_MAX); }},
          {"tidal_allgather", [this] { return tidal_allgather(world, nullptr, b_, 4, kF32); }},
          {"tidal_allgatherv",
           [this] { return tidal_allgatherv(world, a_, 4, nullptr, counts_, nullptr, kF32); }},
          {"tidal_broadcast", [this] { return tidal_broadcast(world, a_, nullptr, 4, kF32, 0); }},
          {"tidal_reduce",
           [this] { return tidal_reduce(world, nullptr, b_, 4, kF32, TIDAL_OP_SUM, 0); }},
          {"tidal_alltoall", [this] { return tidal_alltoall(world, nullptr, b_, 4, kF32); }},
          {"tidal_alltoallv",
           [this] {
             return tidal_alltoallv(world, a_, counts_, displs_, nullptr, counts_, displs_, kF32);
           }},
          {"tidal_send", [] { return tidal_send(world, nullptr, 4, kF32, 0, 0); }},
          {"tidal_recv_async",
           [this] { return tidal_recv_async(world, nullptr, 4, kF32, 0, 0, &work_); }},
      },
      "null");
}

TEST_F(CapiTest, NullCountArraysAreInvalid) {
  EXPECT_INVALID(tidal_allgatherv(world, a_, 4, b_, nullptr, displs_, kF32), "tidal_allgatherv",
                 "recv_counts is NULL");
  const size_t* c = counts_;
  const size_t* d = displs_;
  EXPECT_INVALID(tidal_alltoallv(world, a_, nullptr, d, b_, c, d, kF32), "tidal_alltoallv",
                 "send_counts is NULL");
  EXPECT_INVALID(tidal_alltoallv(world, a_, c, nullptr, b_, c, d, kF32), "tidal_alltoallv",
                 "send_displs is NULL");
  EXPECT_INVALID(tidal_alltoallv(world, a_, c, d, b_, nullptr, d, kF32), "tidal_alltoallv",
                 "recv_counts is NULL");
  work_ = Garbage();
  EXPECT_INVALID(tidal_alltoallv_async(world, a_, c, d, b_, c, nullptr, kF32, &work_),
                 "tidal_alltoallv_async", "recv_displs is NULL");
  EXPECT_EQ(work_, nullptr);
}

TEST_F(CapiTest, RootOutOfRangeIsInvalid) {
  for (const int root : {1, 7, -1, INT_MAX}) {
    const std::string detail = "root " + std::to_string(root);
    EXPECT_INVALID(tidal_broadcast(world, a_, b_, 4, kF32, root), "tidal_broadcast", detail);
    EXPECT_INVALID(tidal_broadcast_async(world, a_, b_, 4, kF32, root, &work_),
                   "tidal_broadcast_async", detail);
    EXPECT_INVALID(tidal_reduce(world, a_, b_, 4, kF32, TIDAL_OP_SUM, root), "tidal_reduce",
                   detail);
    EXPECT_INVALID(tidal_reduce_async(world, a_, b_, 4, kF32, TIDAL_OP_SUM, root, &work_),
                   "tidal_reduce_async", detail);
  }
}

TEST_F(CapiTest, PeerOutOfRangeIsInvalid) {
  for (const int peer : {1, -1}) {
    const std::string detail = std::to_string(peer);
    EXPECT_INVALID(tidal_send(world, a_, 4, kF32, peer, 0), "tidal_send", detail);
    EXPECT_INVALID(tidal_send_async(world, a_, 4, kF32, peer, 0, &work_), "tidal_send_async",
                   detail);
    EXPECT_INVALID(tidal_recv(world, b_, 4, kF32, peer, 0), "tidal_recv", detail);
    EXPECT_INVALID(tidal_recv_async(world, b_, 4, kF32, peer, 0, &work_), "tidal_recv_async",
                   detail);
  }
}

TEST_F(CapiTest, SetAlgorithmAppliesWhereTheCollectiveHasIt) {
  EXPECT_INVALID(tidal_comm_set_algorithm(world, static_cast<tidal_algorithm_t>(7)),
                 "tidal_comm_set_algorithm", "unknown algorithm 7");
  EXPECT_INVALID(tidal_comm_set_algorithm(world, static_cast<tidal_algorithm_t>(-1)),
                 "tidal_comm_set_algorithm", "unknown algorithm -1");
  // Every collective runs whatever is set: with it when it has it, else as with auto.
  for (const tidal_algorithm_t algorithm :
       {TIDAL_ALGO_RING, TIDAL_ALGO_DIRECT, TIDAL_ALGO_CHAIN, TIDAL_ALGO_PAIRWISE, TIDAL_ALGO_HIER,
        TIDAL_ALGO_AUTO}) {
    SCOPED_TRACE(algorithm);
    ASSERT_EQ(tidal_comm_set_algorithm(world, algorithm), TIDAL_OK) << tidal_last_error();
    EXPECT_EQ(tidal_allreduce(world, a_, b_, 4, kF32, TIDAL_OP_SUM), TIDAL_OK)
        << tidal_last_error();
    EXPECT_EQ(tidal_alltoall(world, a_, b_, 4, kF32), TIDAL_OK) << tidal_last_error();
    EXPECT_EQ(tidal_broadcast(world, a_, b_, 4, kF32, 0), TIDAL_OK) << tidal_last_error();
    EXPECT_EQ(tidal_barrier(world), TIDAL_OK) << tidal_last_error();
  }
}

TEST_F(CapiTest, SetTimeoutWantsAPositiveValue) {
  EXPECT_INVALID(tidal_comm_set_timeout(world, 0), "tidal_comm_set_timeout", "not positive");
  EXPECT_INVALID(tidal_comm_set_timeout(world, -5), "tidal_comm_set_timeout", "not positive");
  EXPECT_EQ(tidal_comm_set_timeout(world, 60'000), TIDAL_OK);
}

TEST_F(CapiTest, DestroyAndFreeOfNullDoNothing) {
  EXPECT_EQ(tidal_comm_destroy(nullptr), TIDAL_OK);
  EXPECT_EQ(tidal_work_free(nullptr), TIDAL_OK);
}

TEST_F(CapiTest, SplitOfTheWorldOfOne) {
  tidal_comm_t none = world;
  ASSERT_EQ(tidal_comm_split(world, -1, 0, &none), TIDAL_OK) << tidal_last_error();
  EXPECT_EQ(none, nullptr);
  tidal_comm_t sub = nullptr;
  ASSERT_EQ(tidal_comm_split(world, 3, 0, &sub), TIDAL_OK) << tidal_last_error();
  ASSERT_NE(sub, nullptr);
  int size = 0;
  EXPECT_EQ(tidal_comm_size(sub, &size), TIDAL_OK);
  EXPECT_EQ(size, 1);
  EXPECT_EQ(tidal_comm_destroy(sub), TIDAL_OK);
}

TEST_F(CapiTest, StatusStringsAndSizes) {
  const std::pair<tidal_result_t, const char*> names[] = {
      {TIDAL_OK, "OK"},
      {TIDAL_ERR_INVALID_ARGUMENT, "INVALID_ARGUMENT"},
      {TIDAL_ERR_NOT_SUPPORTED, "NOT_SUPPORTED"},
      {TIDAL_ERR_UNAVAILABLE, "UNAVAILABLE"},
      {TIDAL_ERR_TIMED_OUT, "TIMED_OUT"},
      {TIDAL_ERR_ABORTED, "ABORTED"},
      {TIDAL_ERR_IO, "IO_ERROR"},
      {TIDAL_ERR_INTERNAL, "INTERNAL"},
      {static_cast<tidal_result_t>(99), "UNKNOWN"},
      {static_cast<tidal_result_t>(-1), "UNKNOWN"},
  };
  for (const auto& [result, name] : names) EXPECT_STREQ(tidal_status_string(result), name);
  EXPECT_EQ(tidal_datatype_size(TIDAL_DTYPE_FLOAT32), 4u);
  EXPECT_EQ(tidal_datatype_size(TIDAL_DTYPE_FLOAT64), 8u);
  EXPECT_EQ(tidal_datatype_size(TIDAL_DTYPE_FLOAT16), 2u);
  EXPECT_EQ(tidal_datatype_size(TIDAL_DTYPE_BFLOAT16), 2u);
  EXPECT_EQ(tidal_datatype_size(TIDAL_DTYPE_INT8), 1u);
  EXPECT_EQ(tidal_datatype_size(TIDAL_DTYPE_UINT8), 1u);
  EXPECT_EQ(tidal_datatype_size(TIDAL_DTYPE_INT32), 4u);
  EXPECT_EQ(tidal_datatype_size(TIDAL_DTYPE_INT64), 8u);
  EXPECT_EQ(tidal_datatype_size(static_cast<tidal_datatype_t>(8)), 0u);
  EXPECT_EQ(tidal_datatype_size(static_cast<tidal_datatype_t>(-1)), 0u);
}

TEST_F(CapiTest, LastErrorIsPerThread) {
  EXPECT_INVALID(tidal_comm_rank(nullptr, nullptr), "tidal_comm_rank", "comm is NULL");
  std::string other = "unset";
  std::thread([&other] { other = tidal_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_NE(std::string(tidal_last_error()), "");
}

TEST_F(CapiTest, CollectivesRunInTheWorldOfOne) {
  ASSERT_EQ(tidal_allreduce(world, a_, b_, 4, kF32, TIDAL_OP_SUM), TIDAL_OK) << tidal_last_error();
  EXPECT_EQ(std::vector<float>(b_, b_ + 4), std::vector<float>({1, 2, 3, 4}));
  double d[3] = {0.5, -1, 2};
  ASSERT_EQ(tidal_broadcast(world, d, d, 3, TIDAL_DTYPE_FLOAT64, 0), TIDAL_OK)
      << tidal_last_error();
  EXPECT_EQ(d[0], 0.5);
  int32_t g[2] = {};
  const int32_t mine[2] = {7, 8};
  ASSERT_EQ(tidal_allgather(world, mine, g, 2, TIDAL_DTYPE_INT32), TIDAL_OK) << tidal_last_error();
  EXPECT_EQ(g[1], 8);
  ASSERT_EQ(tidal_barrier(world), TIDAL_OK) << tidal_last_error();
  // A count of 0 needs no buffers.
  EXPECT_EQ(tidal_allreduce(world, nullptr, nullptr, 0, TIDAL_DTYPE_INT8, TIDAL_OP_MAX), TIDAL_OK)
      << tidal_last_error();
}

TEST_F(CapiTest, WorkHandles) {
  int64_t x[3] = {1, 2, 3};
  tidal_work_t work = nullptr;
  ASSERT_EQ(tidal_allreduce_async(world, x, x, 3, TIDAL_DTYPE_INT64, TIDAL_OP_PROD, &work),
            TIDAL_OK)
      << tidal_last_error();
  ASSERT_NE(work, nullptr);
  EXPECT_INVALID(tidal_work_test(work, nullptr), "tidal_work_test", "done is NULL");
  EXPECT_INVALID(tidal_work_wait_timeout(work, -1), "tidal_work_wait_timeout", "negative");
  int done = -1;
  ASSERT_EQ(tidal_work_test(work, &done), TIDAL_OK) << tidal_last_error();
  EXPECT_TRUE(done == 0 || done == 1);
  EXPECT_EQ(tidal_work_wait_timeout(work, 60'000), TIDAL_OK) << tidal_last_error();
  EXPECT_EQ(tidal_work_wait(work), TIDAL_OK) << tidal_last_error();  // again: the same result
  ASSERT_EQ(tidal_work_test(work, &done), TIDAL_OK) << tidal_last_error();
  EXPECT_EQ(done, 1);
  EXPECT_EQ(tidal_work_free(work), TIDAL_OK);
  EXPECT_EQ(x[2], 3);

  // Freeing an unfinished work waits for it: afterwards the buffer holds the result.
  float in[2] = {1.5F, -2}, out[2] = {};
  ASSERT_EQ(tidal_allreduce_async(world, in, out, 2, kF32, TIDAL_OP_MIN, &work), TIDAL_OK)
      << tidal_last_error();
  EXPECT_EQ(tidal_work_free(work), TIDAL_OK) << tidal_last_error();
  EXPECT_EQ(out[0], 1.5F);
  EXPECT_EQ(out[1], -2.0F);
}

}  // namespace
