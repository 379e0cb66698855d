/* capi_demo: tidal's C API from a C99 program, run under tidalrun by tests/multiproc/capi_test.cc.
 * Joins the world from the environment, then checks closed-form results of: allreduce (fp32 sum,
 * int32 max), broadcast (fp64, the last rank as root), allgather (int32), an async allreduce
 * (int64 sum) polled with tidal_work_test and finished with tidal_work_wait, a split by parity
 * with an allreduce inside, and a barrier. Prints "capi ok rank R" and exits 0, or names the
 * failed call or element on stderr and exits 1.
 *   tidalrun -n 3 capi_demo
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <tidal.h>

#define CHECK_OK(call)                                                                   \
  do {                                                                                   \
    tidal_result_t rc_ = (call);                                                         \
    if (rc_ != TIDAL_OK) {                                                               \
      fprintf(stderr, "capi_demo: %s failed: %s: %s\n", #call, tidal_status_string(rc_), \
              tidal_last_error());                                                       \
      exit(1);                                                                           \
    }                                                                                    \
  } while (0)

#define EXPECT(cond, ...)                                   \
  do {                                                      \
    if (!(cond)) {                                          \
      fprintf(stderr, "capi_demo: rank %d: ", rank);        \
      fprintf(stderr, __VA_ARGS__);                         \
      fprintf(stderr, " (%s, line %d)\n", #cond, __LINE__); \
      exit(1);                                              \
    }                                                       \
  } while (0)

enum { kCount = 1000, kGather = 5, kAsyncCount = 10000 };

/* v(rank, i) = 64 (i mod 251) + rank + 1: exact in fp32, distinct per rank. */
static float Contribution(int rank, int i) { return (float)(64 * (i % 251) + rank + 1); }

static void CheckAllReduce(tidal_comm_t comm, int rank, int size) {
  static float grads[kCount];
  int32_t top[kCount];
  int i;
  for (i = 0; i < kCount; ++i) {
    grads[i] = Contribution(rank, i);
    top[i] = (int32_t)((i * 7 + rank * 13) % 101) - 50;
  }
  CHECK_OK(tidal_allreduce(comm, grads, grads, kCount, TIDAL_DTYPE_FLOAT32, TIDAL_OP_SUM));
  CHECK_OK(tidal_allreduce(comm, top, top, kCount, TIDAL_DTYPE_INT32, TIDAL_OP_MAX));
  for (i = 0; i < kCount; ++i) {
    const float want = (float)(size * 64 * (i % 251) + size * (size + 1) / 2);
    int32_t max = -1000;
    int r;
    for (r = 0; r < size; ++r) {
      const int32_t v = (int32_t)((i * 7 + r * 13) % 101) - 50;
      if (v > max) max = v;
    }
    EXPECT(grads[i] == want, "allreduce sum [%d] = %g, want %g", i, (double)grads[i], (double)want);
    EXPECT(top[i] == max, "allreduce max [%d] = %d, want %d", i, (int)top[i], (int)max);
  }
}

static void CheckBroadcast(tidal_comm_t comm, int rank, int size) {
  double buf[kCount];
  const int root = size - 1;
  int i;
  for (i = 0; i < kCount; ++i) buf[i] = rank == root ? 3.0 * i + 0.25 : -1.0;
  CHECK_OK(tidal_broadcast(comm, buf, buf, kCount, TIDAL_DTYPE_FLOAT64, root));
  for (i = 0; i < kCount; ++i) {
    EXPECT(buf[i] == 3.0 * i + 0.25, "broadcast [%d] = %g", i, buf[i]);
  }
}

static void CheckAllGather(tidal_comm_t comm, int rank, int size) {
  int32_t mine[kGather];
  int32_t* all = malloc(sizeof(int32_t) * kGather * (size_t)size);
  int i;
  EXPECT(all != NULL, "out of memory");
  for (i = 0; i < kGather; ++i) mine[i] = rank * 100 + i;
  CHECK_OK(tidal_allgather(comm, mine, all, kGather, TIDAL_DTYPE_INT32));
  for (i = 0; i < kGather * size; ++i) {
    EXPECT(all[i] == (i / kGather) * 100 + i % kGather, "allgather [%d] = %d", i, (int)all[i]);
  }
  free(all);
}

static void CheckAsyncAllReduce(tidal_comm_t comm, int rank, int size) {
  static int64_t buf[kAsyncCount];
  tidal_work_t work = NULL;
  int done = 0;
  int polls;
  int i;
  for (i = 0; i < kAsyncCount; ++i) buf[i] = (int64_t)i * 1000003 + rank;
  CHECK_OK(
      tidal_allreduce_async(comm, buf, buf, kAsyncCount, TIDAL_DTYPE_INT64, TIDAL_OP_SUM, &work));
  EXPECT(work != NULL, "tidal_allreduce_async gave no work");
  for (polls = 0; polls < 100 && !done; ++polls) CHECK_OK(tidal_work_test(work, &done));
  CHECK_OK(tidal_work_wait(work));
  CHECK_OK(tidal_work_test(work, &done));
  EXPECT(done == 1, "tidal_work_test after tidal_work_wait says not done");
  CHECK_OK(tidal_work_free(work));
  for (i = 0; i < kAsyncCount; ++i) {
    const int64_t want = (int64_t)size * i * 1000003 + (int64_t)size * (size - 1) / 2;
    EXPECT(buf[i] == want, "async allreduce [%d] = %lld, want %lld", i, (long long)buf[i],
           (long long)want);
  }
}

static void CheckSplit(tidal_comm_t comm, int rank, int size) {
  tidal_comm_t half = NULL;
  int sub_rank = -1, sub_size = -1;
  int32_t one = 1;
  CHECK_OK(tidal_comm_split(comm, rank % 2, rank, &half));
  EXPECT(half != NULL, "split gave no communicator");
  CHECK_OK(tidal_comm_rank(half, &sub_rank));
  CHECK_OK(tidal_comm_size(half, &sub_size));
  EXPECT(sub_rank == rank / 2, "split rank %d", sub_rank);
  EXPECT(sub_size == (size + 1 - rank % 2) / 2, "split size %d", sub_size);
  CHECK_OK(tidal_allreduce(half, &one, &one, 1, TIDAL_DTYPE_INT32, TIDAL_OP_SUM));
  EXPECT(one == sub_size, "allreduce over the split gave %d", (int)one);
  CHECK_OK(tidal_comm_destroy(half));
}

int main(void) {
  tidal_comm_t comm = NULL;
  int rank = -1, size = 0, local_rank = -1, local_size = 0;
  CHECK_OK(tidal_comm_init_from_env(&comm));
  CHECK_OK(tidal_comm_rank(comm, &rank));
  CHECK_OK(tidal_comm_size(comm, &size));
  CHECK_OK(tidal_comm_local_rank(comm, &local_rank));
  CHECK_OK(tidal_comm_local_size(comm, &local_size));
  EXPECT(rank >= 0 && rank < size, "rank %d of %d", rank, size);
  EXPECT(local_rank >= 0 && local_rank < local_size, "local rank %d of %d", local_rank, local_size);

  CheckAllReduce(comm, rank, size);
  CheckBroadcast(comm, rank, size);
  CheckAllGather(comm, rank, size);
  CheckAsyncAllReduce(comm, rank, size);
  CheckSplit(comm, rank, size);
  CHECK_OK(tidal_barrier(comm));

  printf("capi ok rank %d\n", rank);
  CHECK_OK(tidal_comm_destroy(comm));
  return 0;
}
