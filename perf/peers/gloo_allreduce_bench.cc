// gloo_allreduce_bench: Gloo's ring AllReduce (float sum, in place) over TCP on 127.0.0.1, at the
// sizes given on the command line, for perf/compare.sh, which runs it beside tidal's
// all_reduce_perf and Open MPI. Not a general Gloo benchmark (Gloo's own is gloo/benchmark/).
//
//   tidalrun -n N gloo_allreduce_bench --store DIR [-n iters] [-w warmup] [-c 0|1]
//                                      [-a ring|ring_legacy] SIZE_BYTES...
//
// Launching: each rank is its own process and reads its rank and world size from TIDAL_RANK and
// TIDAL_WORLD_SIZE (tidalrun sets them; --rank/--size override). Ranks meet through a
// gloo::rendezvous::FileStore in DIR, which must be a fresh empty directory shared by the ranks of
// one run (compare.sh makes one per run): a FileStore never forgets keys, so a reused directory
// would hand out a previous run's addresses. tidalrun's own store is not used.
//
// Algorithms: "ring" (default) is gloo::allreduce with AllreduceOptions::Algorithm::RING, the
// interface PyTorch's Gloo backend calls; "ring_legacy" is the older gloo::AllreduceRing<float>.
//
// Per size: -w warm-up calls, a barrier, -n timed calls, all on a zero-filled buffer (no
// subnormals, no overflow; as all_reduce_perf times), then (with -c 1, the default) one more call
// on closed-form data, checked on every rank. Rank 0 prints one line per size, in the
// same columns as mpi_allreduce_bench:
//
//   bytes count iters time_us busbw_GBps algbw_GBps wrong
//
// time_us is the mean time per call (each rank's elapsed time / iters), averaged over ranks;
// algbw = bytes / time, busbw = algbw * 2(n-1)/n, both in GB/s = 1e9 bytes/s. Check data:
// v(rank, i) = 64 (i mod 251) + rank + 1 (exact fp32 sums). Exit status: 0, 1 when any element is
// wrong or Gloo throws, 2 on bad arguments.
#include <gloo/allreduce.h>
#include <gloo/allreduce_ring.h>
#include <gloo/barrier.h>
#include <gloo/math.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>
#include <vector>

namespace {

struct Options {
  int rank = -1;
  int size = -1;
  std::string store;
  std::string algo = "ring";
  int iters = 20;
  int warmup = 5;
  int check = 1;
  std::vector<size_t> sizes;
};

int EnvInt(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): single-threaded here
  return value != nullptr ? std::atoi(value) : -1;
}

bool Parse(int argc, char** argv, Options& options) {
  options.rank = EnvInt("TIDAL_RANK");
  options.size = EnvInt("TIDAL_WORLD_SIZE");
  for (int a = 1; a < argc; ++a) {
    std::string arg = argv[a];
    bool has_value = a + 1 < argc;
    if (arg == "--store" && has_value) {
      options.store = argv[++a];
    } else if (arg == "--rank" && has_value) {
      options.rank = std::atoi(argv[++a]);
    } else if (arg == "--size" && has_value) {
      options.size = std::atoi(argv[++a]);
    } else if (arg == "-a" && has_value) {
      options.algo = argv[++a];
    } else if (arg == "-n" && has_value) {
      options.iters = std::atoi(argv[++a]);
    } else if (arg == "-w" && has_value) {
      options.warmup = std::atoi(argv[++a]);
    } else if (arg == "-c" && has_value) {
      options.check = std::atoi(argv[++a]);
    } else if (!arg.empty() && arg[0] != '-') {
      options.sizes.push_back(std::strtoull(arg.c_str(), nullptr, 0));
    } else {
      return false;
    }
  }
  return !options.store.empty() && options.size >= 1 && options.rank >= 0 &&
         options.rank < options.size && options.iters >= 1 && options.warmup >= 0 &&
         !options.sizes.empty() && (options.algo == "ring" || options.algo == "ring_legacy");
}

float Value(int rank, size_t i) { return static_cast<float>(64 * (i % 251) + rank + 1); }

float Expected(int size, size_t i) {
  return static_cast<float>(64 * size * (i % 251) + size * (size + 1) / 2);
}

// One in-place AllReduce of a fixed buffer with the chosen Gloo algorithm. The legacy ring keeps
// its own connection slots, so it is built once per size, as Gloo's benchmark does.
class Runner {
 public:
  Runner(const std::shared_ptr<gloo::Context>& context, const std::string& algo,
         std::vector<float>& buf)
      : context_(context), buf_(buf) {
    if (algo == "ring_legacy") {
      legacy_ = std::make_unique<gloo::AllreduceRing<float>>(
          context, std::vector<float*>{buf.data()}, static_cast<int>(buf.size()));
    }
  }

  void Run() {
    if (legacy_ != nullptr) {
      legacy_->run();
      return;
    }
    gloo::AllreduceOptions opts(context_);
    opts.setAlgorithm(gloo::AllreduceOptions::Algorithm::RING);
    opts.setOutput(buf_.data(), buf_.size());
    opts.setReduceFunction(
        static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<float>));
    opts.setTag(tag_++);
    gloo::allreduce(opts);
  }

 private:
  std::shared_ptr<gloo::Context> context_;
  std::vector<float>& buf_;
  std::unique_ptr<gloo::AllreduceRing<float>> legacy_;
  uint32_t tag_ = 0;
};

void Barrier(const std::shared_ptr<gloo::Context>& context) {
  gloo::BarrierOptions opts(context);
  gloo::barrier(opts);
}

// Returns the mean over ranks of `local` (a double), through a Gloo allreduce.
double MeanOverRanks(const std::shared_ptr<gloo::Context>& context, double local) {
  std::vector<double> value{local};
  gloo::AllreduceOptions opts(context);
  opts.setOutput(value.data(), 1);
  opts.setReduceFunction(
      static_cast<void (*)(void*, const void*, const void*, size_t)>(&gloo::sum<double>));
  gloo::allreduce(opts);
  return value[0] / context->size;
}

// Times one size and checks it; prints its row on rank 0 and returns the wrong element count.
long long RunSize(const std::shared_ptr<gloo::Context>& context, const Options& options,
                  size_t bytes) {
  size_t count = bytes / sizeof(float);
  bytes = count * sizeof(float);
  std::vector<float> buf(count, 0.0f);
  Runner runner(context, options.algo, buf);
  for (int i = 0; i < options.warmup; ++i) runner.Run();
  Barrier(context);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < options.iters; ++i) runner.Run();
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  double seconds = MeanOverRanks(context, elapsed.count() / options.iters);
  long long wrong = 0;
  if (options.check != 0) {
    for (size_t i = 0; i < count; ++i) buf[i] = Value(context->rank, i);
    runner.Run();
    for (size_t i = 0; i < count; ++i) wrong += buf[i] != Expected(context->size, i) ? 1 : 0;
    wrong = static_cast<long long>(
        MeanOverRanks(context, static_cast<double>(wrong)) * context->size + 0.5);
  }
  double algbw = seconds > 0 ? static_cast<double>(bytes) / seconds / 1e9 : 0;
  double busbw = algbw * 2.0 * (context->size - 1) / context->size;
  if (context->rank == 0) {
    std::printf("%14zu %12zu %7d %12.2f %11.6g %11.6g %7lld\n", bytes, count, options.iters,
                seconds * 1e6, busbw, algbw, wrong);
    std::fflush(stdout);
  }
  return wrong;
}

int Run(const Options& options) {
  gloo::transport::tcp::attr attr;
  attr.hostname = "127.0.0.1";
  auto device = gloo::transport::tcp::CreateDevice(attr);
  gloo::rendezvous::FileStore store(options.store);
  auto context = std::make_shared<gloo::rendezvous::Context>(options.rank, options.size);
  context->setTimeout(std::chrono::seconds(60));
  context->connectFullMesh(store, device);
  if (context->rank == 0) {
    std::printf(
        "# gloo_allreduce_bench (%s, tcp 127.0.0.1): %d ranks, float sum, in place, "
        "%d iters (%d warm-up), time = mean per call averaged over ranks\n",
        options.algo.c_str(), options.size, options.iters, options.warmup);
    std::printf("# %12s %12s %7s %12s %11s %11s %7s\n", "bytes", "count", "iters", "time_us",
                "busbw_GBps", "algbw_GBps", "wrong");
  }
  long long wrong = 0;
  for (size_t bytes : options.sizes) wrong += RunSize(context, options, bytes);
  return wrong != 0 ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!Parse(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: %s --store DIR [--rank R --size N] [-n iters] [-w warmup] [-c 0|1] "
                 "[-a ring|ring_legacy] SIZE_BYTES...\n(rank and size default to TIDAL_RANK and "
                 "TIDAL_WORLD_SIZE)\n",
                 argv[0]);
    return 2;
  }
  try {  // Gloo reports errors by throwing (gloo/common/error.h); this is its seam.
    return Run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gloo_allreduce_bench rank %d: %s\n", options.rank, e.what());
    return 1;
  }
}
