/* memcpy_bench: the physical reference line of perf/compare.sh. N processes (one per rank of the
 * AllReduce it stands beside) each copy SIZE bytes with memcpy at the same time, between two
 * buffers of their own, and the mean time per copy is reported in compare.sh's peer format:
 *
 *   memcpy_bench -p N [-n iters] [-w warmup] [-c 0|1] SIZE_BYTES...
 *   bytes count iters time_us busbw_GBps algbw_GBps wrong
 *
 * busbw = algbw = bytes / time in GB/s (1e9 bytes/s): the rate at which one rank's memory traffic
 * can move a buffer while the others do the same. An AllReduce moves at least that much per rank
 * (each rank reads the others' contributions and writes the whole result), so tidal's busbw over
 * this figure is the fraction of a plain copy's speed it reaches. -c is accepted and ignored
 * (the copies are checked with memcmp after the timed loop; wrong counts differing bytes).
 * The processes start each size together (a barrier in shared memory) and sleep-wait, never
 * spin, on it. Exit status: 0, 1 when a copy was wrong, 2 on bad arguments. */
#define _GNU_SOURCE

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct Shared {
  atomic_int arrived;
  atomic_llong total_ns;
  atomic_llong wrong;
};

static double Now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Waits until `target` processes arrived (each adds 1 first). */
static void Barrier(struct Shared* s, int target) {
  atomic_fetch_add(&s->arrived, 1);
  while (atomic_load(&s->arrived) < target) usleep(50);
}

static int Child(struct Shared* s, int procs, int round, size_t bytes, int iters, int warmup) {
  char* a = malloc(bytes ? bytes : 1);
  char* b = malloc(bytes ? bytes : 1);
  if (a == NULL || b == NULL) return 1;
  for (size_t i = 0; i < bytes; ++i) a[i] = (char)(i * 7 + 1);
  memset(b, 0, bytes);
  for (int i = 0; i < warmup; ++i) memcpy(b, a, bytes);
  Barrier(s, procs * (round + 1));
  const double start = Now();
  for (int i = 0; i < iters; ++i) {
    memcpy(b, a, bytes);
    __asm__ volatile("" : : "r"(b) : "memory"); /* every copy happens */
  }
  const double elapsed = Now() - start;
  atomic_fetch_add(&s->total_ns, (long long)(elapsed * 1e9));
  long long wrong = 0;
  for (size_t i = 0; i < bytes; ++i) wrong += a[i] != b[i];
  atomic_fetch_add(&s->wrong, wrong);
  free(a);
  free(b);
  return 0;
}

int main(int argc, char** argv) {
  int procs = 1, iters = 20, warmup = 5, opt;
  while ((opt = getopt(argc, argv, "p:n:w:c:")) != -1) {
    switch (opt) {
      case 'p': procs = atoi(optarg); break;
      case 'n': iters = atoi(optarg); break;
      case 'w': warmup = atoi(optarg); break;
      case 'c': break;
      default: fprintf(stderr, "usage: %s -p N [-n iters] [-w warmup] SIZE...\n", argv[0]); return 2;
    }
  }
  if (procs < 1 || iters < 1 || warmup < 0 || optind >= argc) {
    fprintf(stderr, "usage: %s -p N [-n iters] [-w warmup] SIZE...\n", argv[0]);
    return 2;
  }
  struct Shared* s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (s == MAP_FAILED) return 2;
  printf("# memcpy_bench: %d processes copying at once, mean time per copy\n", procs);
  printf("# %12s %12s %7s %12s %11s %11s %7s\n", "bytes", "count", "iters", "time_us",
         "busbw_GBps", "algbw_GBps", "wrong");
  int status = 0;
  for (int round = 0; optind + round < argc; ++round) {
    const size_t bytes = strtoull(argv[optind + round], NULL, 10);
    atomic_store(&s->total_ns, 0);
    atomic_store(&s->wrong, 0);
    for (int p = 0; p < procs; ++p) {
      const pid_t pid = fork();
      if (pid < 0) return 2;
      if (pid == 0) _exit(Child(s, procs, round, bytes, iters, warmup));
    }
    int child;
    while (wait(&child) > 0) {
      if (!WIFEXITED(child) || WEXITSTATUS(child) != 0) status = 2;
    }
    const double time_us = (double)atomic_load(&s->total_ns) / 1e3 / procs / iters;
    const double gbps = time_us > 0 ? (double)bytes / time_us / 1e3 : 0;
    const long long wrong = atomic_load(&s->wrong);
    if (wrong != 0 && status == 0) status = 1;
    printf("%14zu %12zu %7d %12.2f %11.6g %11.6g %7lld\n", bytes, bytes / 4, iters, time_us, gbps,
           gbps, wrong);
    fflush(stdout);
  }
  return status;
}
