/* mpi_allreduce_bench: MPI_Allreduce (MPI_IN_PLACE, float, MPI_SUM) at the sizes given on the
 * command line, for perf/compare.sh, which runs it beside tidal's all_reduce_perf and Gloo.
 * Not a general MPI benchmark (use OSU's osu_allreduce for that): one datatype, one op, in place.
 *
 *   mpirun -np N mpi_allreduce_bench [-n iters] [-w warmup] [-c 0|1] SIZE_BYTES...
 *
 * Per size: -w warm-up calls, a barrier, -n timed calls, all on a zero-filled buffer (no
 * subnormals, no overflow; as all_reduce_perf times), then (with -c 1, the default) one more call
 * on closed-form data, checked on every rank. Rank 0 prints one line per size:
 *
 *   bytes count iters time_us busbw_GBps algbw_GBps wrong
 *
 * time_us is the mean time per call (each rank's elapsed time / iters), averaged over ranks, as
 * all_reduce_perf's default (-a 1) and nccl-tests report it. algbw = bytes / time and
 * busbw = algbw * 2(n-1)/n (nccl-tests' AllReduce factor), both in GB/s = 1e9 bytes/s.
 * Lines starting with '#' are comments. A size that is not a multiple of 4 is rounded down.
 * Exit status: 0, 1 when any element is wrong, 2 on bad arguments.
 *
 * Check data: v(rank, i) = 64 (i mod 251) + rank + 1, whose sum over n ranks,
 * 64 n (i mod 251) + n (n + 1) / 2, is exact in fp32 for the rank counts used here. */
#define _POSIX_C_SOURCE 200809L /* getopt under -std=c11 */

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float Value(int rank, size_t i) { return (float)(64 * (i % 251) + (size_t)rank + 1); }

static float Expected(int size, size_t i) {
  return (float)(64 * (size_t)size * (i % 251) + (size_t)size * ((size_t)size + 1) / 2);
}

static void Fill(float* buf, size_t count, int rank) {
  for (size_t i = 0; i < count; ++i) buf[i] = Value(rank, i);
}

/* Returns the number of wrong elements over all ranks after one checked allreduce. */
static long long Check(float* buf, size_t count, int rank, int size) {
  Fill(buf, count, rank);
  MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  long long wrong = 0;
  for (size_t i = 0; i < count; ++i) wrong += buf[i] != Expected(size, i);
  long long total = 0;
  MPI_Allreduce(&wrong, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  return total;
}

/* Returns the mean seconds per call, averaged over ranks. */
static double Time(float* buf, size_t count, int iters, int warmup, int size) {
  for (int i = 0; i < warmup; ++i) {
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  double start = MPI_Wtime();
  for (int i = 0; i < iters; ++i) {
    MPI_Allreduce(MPI_IN_PLACE, buf, (int)count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
  double per_call = (MPI_Wtime() - start) / iters;
  double sum = 0;
  MPI_Allreduce(&per_call, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  return sum / size;
}

static int Usage(const char* argv0) {
  fprintf(stderr, "usage: %s [-n iters] [-w warmup] [-c 0|1] SIZE_BYTES...\n", argv0);
  return 2;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int iters = 20, warmup = 5, check = 1, opt;
  while ((opt = getopt(argc, argv, "n:w:c:")) != -1) {
    switch (opt) {
      case 'n':
        iters = atoi(optarg);
        break;
      case 'w':
        warmup = atoi(optarg);
        break;
      case 'c':
        check = atoi(optarg);
        break;
      default:
        MPI_Finalize();
        return Usage(argv[0]);
    }
  }
  if (optind >= argc || iters < 1 || warmup < 0) {
    MPI_Finalize();
    return Usage(argv[0]);
  }
  if (rank == 0) {
    printf(
        "# mpi_allreduce_bench: %d ranks, float sum, in place, %d iters (%d warm-up), "
        "time = mean per call averaged over ranks\n",
        size, iters, warmup);
    printf("# %12s %12s %7s %12s %11s %11s %7s\n", "bytes", "count", "iters", "time_us",
           "busbw_GBps", "algbw_GBps", "wrong");
  }
  long long all_wrong = 0;
  for (int a = optind; a < argc; ++a) {
    size_t count = strtoull(argv[a], NULL, 0) / sizeof(float);
    size_t bytes = count * sizeof(float);
    float* buf = malloc(bytes ? bytes : 1);
    if (buf == NULL || count > INT_MAX) {
      fprintf(stderr, "mpi_allreduce_bench rank %d: cannot allocate or count %zu floats\n", rank,
              count);
      MPI_Abort(MPI_COMM_WORLD, 2);
    }
    memset(buf, 0, bytes ? bytes : 1);
    double seconds = Time(buf, count, iters, warmup, size);
    long long wrong = check ? Check(buf, count, rank, size) : 0;
    all_wrong += wrong;
    free(buf);
    double algbw = seconds > 0 ? (double)bytes / seconds / 1e9 : 0;
    double busbw = algbw * 2.0 * (size - 1) / size;
    if (rank == 0) {
      printf("%14zu %12zu %7d %12.2f %11.6g %11.6g %7lld\n", bytes, count, iters, seconds * 1e6,
             busbw, algbw, wrong);
      fflush(stdout);
    }
  }
  MPI_Finalize();
  return all_wrong ? 1 : 0;
}
