// tidal.h: tidal's C API, for trainers written in any language (C, ctypes/cffi, Rust FFI, Julia,
// ...). It wraps the C++ API (tidal/comm/communicator.h, tidal/coll/collectives.h) one to one:
// the same communicators, collectives and semantics, through opaque handles and result codes.
// It is not a second implementation and adds no behaviour of its own beyond argument checks.
//
//   tidal_comm_t comm;
//   if (tidal_comm_init_from_env(&comm) != TIDAL_OK) die(tidal_last_error());
//   tidal_allreduce(comm, grads, grads, n, TIDAL_DTYPE_FLOAT32, TIDAL_OP_SUM);
//   tidal_comm_destroy(comm);
//
// Plain C99; in C++ the declarations are extern "C". Link libtidal.so (CMake: tidal::tidal).
//
// Errors: every function but the string functions returns a tidal_result_t, whose codes are
// tidal::StatusCode's and say what to do next (see the enum). A failed call also records a
// message naming the C function, the rank, the operation and the argument or peer; read it with
// tidal_last_error() on the same thread. Bad arguments -- a NULL handle or out-pointer, an enum
// value the header does not define, a NULL buffer with a non-zero count, a root or peer out of
// range -- return TIDAL_ERR_INVALID_ARGUMENT and never crash. A handle that was destroyed (or
// never came from tidal) is undefined behaviour, as with free().
//
// Semantics (as the C++ API): counts are elements, not bytes; buffers are host memory; send ==
// recv runs in place; fp16/bf16 accumulate in fp32; integer overflow wraps; integer avg truncates
// toward zero; min/max propagate NaN; every rank ends with bit-identical results. Blocking calls
// wait until the communicator's timeout (TIDAL_TIMEOUT_MS, tidal_comm_set_timeout) at most. After
// TIDAL_ERR_UNAVAILABLE, _TIMED_OUT or _ABORTED the failed call's buffers may still be in use
// until tidal_comm_abort() returns: abort before freeing them.
//
// Thread safety: tidal_last_error() is per thread. One thread at a time issues operations on a
// communicator, in the same order on every member; different communicators may be used from
// different threads. tidal_comm_abort() may be called from any thread. A work handle may move
// between threads; one thread at a time uses it.
#ifndef TIDAL_H_
#define TIDAL_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
// In C++ the enums get int as their fixed underlying type, so that any int a caller passes (say
// 99 from a ctypes binding) is a valid value that the library can reject, not undefined
// behaviour. In C an enum is int-sized already.
#define TIDAL_ENUM_BASE_ : int
extern "C" {
#else
#define TIDAL_ENUM_BASE_
#endif

// ---- Results and errors ----

// tidal::StatusCode, value for value.
typedef enum tidal_result TIDAL_ENUM_BASE_ {
  TIDAL_OK = 0,
  TIDAL_ERR_INVALID_ARGUMENT = 1,  // a caller bug: fix the call, do not retry
  TIDAL_ERR_NOT_SUPPORTED = 2,     // this algorithm or build declines the request
  TIDAL_ERR_UNAVAILABLE = 3,       // a peer or link is gone: rebuild the communicator
  TIDAL_ERR_TIMED_OUT = 4,         // the deadline passed: the operation's effect is unknown
  TIDAL_ERR_ABORTED = 5,           // aborted or shutting down
  TIDAL_ERR_IO = 6,                // transport or system failure not classified above
  TIDAL_ERR_INTERNAL = 7,          // a broken invariant inside tidal
} tidal_result_t;

// "OK", "INVALID_ARGUMENT", "NOT_SUPPORTED", "UNAVAILABLE", "TIMED_OUT", "ABORTED", "IO_ERROR",
// "INTERNAL"; "UNKNOWN" for other values. A static string.
const char* tidal_status_string(tidal_result_t result);

// The message of the last call on this thread that failed ("" when none has): e.g.
// "tidal_allreduce: rank 0: allreduce: unknown data type 99". Successful calls leave it alone.
// Valid until the next failing tidal call on this thread.
const char* tidal_last_error(void);

// ---- Types ----

// Element types; values equal tidal::coll::DataType's.
typedef enum tidal_datatype TIDAL_ENUM_BASE_ {
  TIDAL_DTYPE_FLOAT32 = 0,
  TIDAL_DTYPE_FLOAT64 = 1,
  TIDAL_DTYPE_FLOAT16 = 2,   // IEEE binary16, passed as uint16_t bit patterns
  TIDAL_DTYPE_BFLOAT16 = 3,  // bfloat16, passed as uint16_t bit patterns
  TIDAL_DTYPE_INT8 = 4,
  TIDAL_DTYPE_UINT8 = 5,
  TIDAL_DTYPE_INT32 = 6,
  TIDAL_DTYPE_INT64 = 7,
} tidal_datatype_t;

// Reduction operators; values equal tidal::coll::ReduceOp's.
typedef enum tidal_redop TIDAL_ENUM_BASE_ {
  TIDAL_OP_SUM = 0,
  TIDAL_OP_PROD = 1,
  TIDAL_OP_MIN = 2,
  TIDAL_OP_MAX = 3,
  TIDAL_OP_AVG = 4,
} tidal_redop_t;

// Algorithms (tidal/coll/algorithm.h); values equal tidal::coll::Algorithm's.
typedef enum tidal_algorithm TIDAL_ENUM_BASE_ {
  TIDAL_ALGO_AUTO = 0,      // TIDAL_ALGO_<COLL> / TIDAL_ALGO knobs, else by size and ranks
  TIDAL_ALGO_RING = 1,      // allreduce, reduce_scatter, allgather(v)
  TIDAL_ALGO_DIRECT = 2,    // all but alltoall(v); the small-message choice
  TIDAL_ALGO_CHAIN = 3,     // allreduce, broadcast, reduce
  TIDAL_ALGO_PAIRWISE = 4,  // alltoall(v)
  TIDAL_ALGO_SHM = 5,       // allreduce, every member on one host (shared memory)
  TIDAL_ALGO_HIER = 6,      // allreduce, the same number of members on every host
} tidal_algorithm_t;

// Bytes per element of `type`; 0 for a value the header does not define.
size_t tidal_datatype_size(tidal_datatype_t type);

// ---- Communicators ----

typedef struct tidal_comm* tidal_comm_t;  // a communicator
typedef struct tidal_work* tidal_work_t;  // one asynchronous operation

// The world communicator, from the launcher's environment (tidalrun, torchrun, Open MPI, Slurm;
// alone, a world of one rank): Communicator::CreateWorld(). Collective over every rank of the
// job; blocks until all joined or TIDAL_TIMEOUT_MS passed (TIDAL_ERR_TIMED_OUT). On success
// *out is a new communicator (free it with tidal_comm_destroy); on failure *out is NULL.
tidal_result_t tidal_comm_init_from_env(tidal_comm_t* out);

// Frees `comm` (NULL: does nothing and returns TIDAL_OK, like free()). Not collective.
// REQUIRES: every work of `comm` was waited for or freed.
tidal_result_t tidal_comm_destroy(tidal_comm_t comm);

// This rank in `comm`, the number of ranks, and the same among the ranks of this host.
tidal_result_t tidal_comm_rank(tidal_comm_t comm, int* rank);
tidal_result_t tidal_comm_size(tidal_comm_t comm, int* size);
tidal_result_t tidal_comm_local_rank(tidal_comm_t comm, int* local_rank);
tidal_result_t tidal_comm_local_size(tidal_comm_t comm, int* local_size);

// Members with the same color >= 0 form a new communicator, ranked by (key, rank in comm); it
// inherits comm's timeout and algorithm. Collective over `comm`. *out is the new
// communicator, or NULL for color < 0 (and on failure).
tidal_result_t tidal_comm_split(tidal_comm_t comm, int color, int key, tidal_comm_t* out);

// Aborts: posts this rank's death so that peers fail fast, then every pending and later
// operation of every communicator of the process fails with TIDAL_ERR_ABORTED. Blocks until the
// buffers of failed operations are released. `why` (may be NULL) goes into the messages. Any
// thread may call it. The communicators must still be destroyed.
tidal_result_t tidal_comm_abort(tidal_comm_t comm, const char* why);

// The deadline of this communicator's blocking calls and of tidal_work_wait, in ms (> 0).
tidal_result_t tidal_comm_set_timeout(tidal_comm_t comm, int64_t timeout_ms);

// Runs this communicator's collectives that have `algorithm` with it; the others choose as with
// TIDAL_ALGO_AUTO (as the TIDAL_ALGO knob does, but per communicator). TIDAL_ALGO_AUTO, the
// default, lets tidal choose. Every member must make the same choice.
tidal_result_t tidal_comm_set_algorithm(tidal_comm_t comm, tidal_algorithm_t algorithm);

// ---- Collectives ----
//
// Each collective is collective over `comm`: every member calls it with the same count, type,
// op and root, in the same order. The blocking form returns when this rank's part finished. The
// _async form returns at once with *work set (NULL on failure); the buffers belong to tidal until
// tidal_work_wait/_test reported the work finished. Operations on a communicator finish in issue
// order. A count of 0 is a valid operation.

// recv[i] = op over ranks of send[i], for i < count.
tidal_result_t tidal_allreduce(tidal_comm_t comm, const void* send, void* recv, size_t count,
                               tidal_datatype_t type, tidal_redop_t op);
tidal_result_t tidal_allreduce_async(tidal_comm_t comm, const void* send, void* recv, size_t count,
                                     tidal_datatype_t type, tidal_redop_t op, tidal_work_t* work);

// send holds size * recv_count elements; rank r receives the reduction of block r.
tidal_result_t tidal_reduce_scatter(tidal_comm_t comm, const void* send, void* recv,
                                    size_t recv_count, tidal_datatype_t type, tidal_redop_t op);
tidal_result_t tidal_reduce_scatter_async(tidal_comm_t comm, const void* send, void* recv,
                                          size_t recv_count, tidal_datatype_t type,
                                          tidal_redop_t op, tidal_work_t* work);

// recv holds size * send_count elements; block r is rank r's send (in place: send == recv + rank
// * send_count elements).
tidal_result_t tidal_allgather(tidal_comm_t comm, const void* send, void* recv, size_t send_count,
                               tidal_datatype_t type);
tidal_result_t tidal_allgather_async(tidal_comm_t comm, const void* send, void* recv,
                                     size_t send_count, tidal_datatype_t type, tidal_work_t* work);

// Rank r contributes recv_counts[r] elements (its send_count must equal it), placed at
// displs[r] elements into recv (displs NULL: packed in rank order). recv_counts and displs have
// size entries, identical on every rank; tidal reads them during the call only.
tidal_result_t tidal_allgatherv(tidal_comm_t comm, const void* send, size_t send_count, void* recv,
                                const size_t* recv_counts, const size_t* displs,
                                tidal_datatype_t type);
tidal_result_t tidal_allgatherv_async(tidal_comm_t comm, const void* send, size_t send_count,
                                      void* recv, const size_t* recv_counts, const size_t* displs,
                                      tidal_datatype_t type, tidal_work_t* work);

// recv = root's send on every rank (root: in place when send == recv; others ignore send).
tidal_result_t tidal_broadcast(tidal_comm_t comm, const void* send, void* recv, size_t count,
                               tidal_datatype_t type, int root);
tidal_result_t tidal_broadcast_async(tidal_comm_t comm, const void* send, void* recv, size_t count,
                                     tidal_datatype_t type, int root, tidal_work_t* work);

// The root's recv = op over ranks of send; other ranks' recv is not touched (may be NULL).
tidal_result_t tidal_reduce(tidal_comm_t comm, const void* send, void* recv, size_t count,
                            tidal_datatype_t type, tidal_redop_t op, int root);
tidal_result_t tidal_reduce_async(tidal_comm_t comm, const void* send, void* recv, size_t count,
                                  tidal_datatype_t type, tidal_redop_t op, int root,
                                  tidal_work_t* work);

// Block r of send (count elements) goes to rank r; block s of recv comes from rank s. Not in
// place.
tidal_result_t tidal_alltoall(tidal_comm_t comm, const void* send, void* recv, size_t count,
                              tidal_datatype_t type);
tidal_result_t tidal_alltoall_async(tidal_comm_t comm, const void* send, void* recv, size_t count,
                                    tidal_datatype_t type, tidal_work_t* work);

// send_counts[r] elements at send_displs[r] go to rank r; recv_counts[s] elements from rank s
// land at recv_displs[s] (elements). Each array has size entries; tidal reads them during the
// call only. recv_counts[s] here must equal send_counts[this rank] on rank s.
tidal_result_t tidal_alltoallv(tidal_comm_t comm, const void* send, const size_t* send_counts,
                               const size_t* send_displs, void* recv, const size_t* recv_counts,
                               const size_t* recv_displs, tidal_datatype_t type);
tidal_result_t tidal_alltoallv_async(tidal_comm_t comm, const void* send, const size_t* send_counts,
                                     const size_t* send_displs, void* recv,
                                     const size_t* recv_counts, const size_t* recv_displs,
                                     tidal_datatype_t type, tidal_work_t* work);

// Returns once every member has entered the barrier.
tidal_result_t tidal_barrier(tidal_comm_t comm);
tidal_result_t tidal_barrier_async(tidal_comm_t comm, tidal_work_t* work);

// Typed point-to-point messages to / from `peer` (a rank of comm); FIFO per (peer, tag). Recv of
// a shorter message fills a prefix; a longer one fails with TIDAL_ERR_IO.
tidal_result_t tidal_send(tidal_comm_t comm, const void* buf, size_t count, tidal_datatype_t type,
                          int peer, uint32_t tag);
tidal_result_t tidal_send_async(tidal_comm_t comm, const void* buf, size_t count,
                                tidal_datatype_t type, int peer, uint32_t tag, tidal_work_t* work);
tidal_result_t tidal_recv(tidal_comm_t comm, void* buf, size_t count, tidal_datatype_t type,
                          int peer, uint32_t tag);
tidal_result_t tidal_recv_async(tidal_comm_t comm, void* buf, size_t count, tidal_datatype_t type,
                                int peer, uint32_t tag, tidal_work_t* work);

// ---- Work handles ----

// Blocks until the operation finished or the communicator's timeout passed, and returns its
// result. TIDAL_ERR_TIMED_OUT stops the operation (its buffers stay tidal's until it finished or
// tidal_comm_abort returned). Waiting again returns the same result.
tidal_result_t tidal_work_wait(tidal_work_t work);
// As tidal_work_wait with a deadline timeout_ms (>= 0) from now; a timeout stops the operation
// as above (use tidal_work_test to poll).
tidal_result_t tidal_work_wait_timeout(tidal_work_t work, int64_t timeout_ms);
// Never blocks (it may drive one round of progress). *done = 0 and TIDAL_OK while the operation
// runs; *done = 1 and the operation's result once it finished.
tidal_result_t tidal_work_test(tidal_work_t work, int* done);
// Frees the handle (NULL: does nothing). Freeing a work that has not been reported finished
// waits for it first (as tidal_work_wait) and returns that wait's result; freeing one whose
// result tidal_work_wait/_test already returned returns TIDAL_OK. The handle is gone either way.
tidal_result_t tidal_work_free(tidal_work_t work);

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // TIDAL_H_
