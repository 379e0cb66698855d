// outer_overlap_perf: how much of SlowMo's outer step the GPU path hides (DeviceSlowMo,
// optim/tidal/optim/slowmo_device.h), measured on the GPU.
//
//   tidalrun -n 4 build/release/bin/outer_overlap_perf [--floats 4194304] [--layers 4]
//            [--layer-reps 20] [--rounds 7] [--iters 10]
//
// Every rank holds --floats fp32 parameters in GPU memory, in --layers equal buckets ("layers"),
// and runs a model step of one "layer" per bucket on its compute stream: --layer-reps launches of
// the CUDA SGD kernel over a scratch array of the layer's size that read the layer's parameters
// as their gradient (so a layer depends on its bucket, as a forward pass does). Three variants,
// interleaved within each round (after a barrier each), --iters iterations each:
//   compute   the layers only
//   blocking  DeviceSlowMo::OuterStep (the host waits for every bucket), then the layers
//   overlap   OuterStepAsync, then per layer WaitBucket(k) + the layer, then the host waits for
//             the Works
// An iteration ends with a synchronize of the compute stream. Per round: the median iteration
// time of each variant, and hidden = (blocking − overlap) / (blocking − compute), the fraction of
// the outer step's cost that the per-bucket overlap takes off the step. The last line has the
// medians over rounds. Rank 0 prints. Without a GPU (or a CUDA build) it prints why and exits 0.
//
// Thread safety: single-threaded program (one per rank).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "tidal/comm/communicator.h"
#include "tidal/core/time.h"
#include "tidal/optim/device.h"
#include "tidal/optim/kernels_cuda.h"
#include "tidal/optim/slowmo_device.h"

namespace {

using tidal::Result;
using tidal::Status;
namespace opt = tidal::optim;

struct Flags {
  size_t floats = size_t{1} << 22;
  size_t layers = 4;
  int layer_reps = 20;
  int rounds = 7;
  int iters = 10;
};

bool ParseFlags(int argc, char** argv, Flags* f) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (v <= 0) return false;
    if (key == "--floats") {
      f->floats = static_cast<size_t>(v);
    } else if (key == "--layers") {
      f->layers = static_cast<size_t>(v);
    } else if (key == "--layer-reps") {
      f->layer_reps = static_cast<int>(v);
    } else if (key == "--rounds") {
      f->rounds = static_cast<int>(v);
    } else if (key == "--iters") {
      f->iters = static_cast<int>(v);
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && f->layers <= f->floats;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

class Bench {
 public:
  Bench(tidal::Communicator& comm, opt::Device& device, const Flags& flags)
      : comm_(comm), device_(device), flags_(flags) {}

  Status Init() {
    TIDAL_ASSIGN_OR_RETURN(void* x, device_.Allocate(flags_.floats * sizeof(float)));
    TIDAL_ASSIGN_OR_RETURN(void* scratch, device_.Allocate(flags_.floats * sizeof(float)));
    x_ = static_cast<float*>(x);
    scratch_ = static_cast<float*>(scratch);
    TIDAL_ASSIGN_OR_RETURN(stream_, device_.CreateStream());
    TIDAL_RETURN_IF_ERROR(device_.ZeroAsync(x_, flags_.floats * sizeof(float), stream_));
    TIDAL_RETURN_IF_ERROR(device_.ZeroAsync(scratch_, flags_.floats * sizeof(float), stream_));
    TIDAL_RETURN_IF_ERROR(device_.SynchronizeStream(stream_));
    opt::SlowMoOptions options;
    options.tau = 1;
    const size_t per = flags_.floats / flags_.layers;
    for (size_t k = 0; k < flags_.layers; ++k) {
      const size_t begin = k * per;
      const size_t count = k + 1 == flags_.layers ? flags_.floats - begin : per;
      options.buckets.push_back(opt::Bucket{begin, count});
    }
    buckets_ = options.buckets;
    TIDAL_ASSIGN_OR_RETURN(slowmo_,
                           opt::DeviceSlowMo::Create(comm_, device_, x_, flags_.floats, options));
    return Status::Ok();
  }
  ~Bench() {
    slowmo_.reset();
    if (stream_ != nullptr) {
      Status st = device_.SynchronizeStream(stream_);
      (void)st;
      device_.DestroyStream(stream_);
    }
    device_.Free(scratch_);
    device_.Free(x_);
  }

  enum class Variant { kCompute, kBlocking, kOverlap };

  // Median seconds per iteration of `variant` over flags_.iters iterations.
  Result<double> Run(Variant variant) {
    TIDAL_RETURN_IF_ERROR(comm_.Barrier());
    std::vector<double> times;
    for (int it = 0; it < flags_.iters; ++it) {
      const auto start = tidal::Clock::now();
      TIDAL_RETURN_IF_ERROR(Iteration(variant));
      times.push_back(std::chrono::duration<double>(tidal::Clock::now() - start).count());
    }
    return Median(times);
  }

 private:
  Status Layer(size_t k) {
    opt::SgdConfig sgd;
    sgd.lr = 1e-6f;
    const opt::Bucket& b = buckets_[k];
    for (int r = 0; r < flags_.layer_reps; ++r) {
      TIDAL_RETURN_IF_ERROR(
          opt::cuda::SgdStep(sgd, scratch_ + b.begin, x_ + b.begin, nullptr, b.count, stream_));
    }
    return Status::Ok();
  }

  Status Iteration(Variant variant) {
    constexpr float kGamma = 0.01f;
    std::vector<tidal::Work> works;
    if (variant == Variant::kBlocking) TIDAL_RETURN_IF_ERROR(slowmo_->OuterStep(kGamma, stream_));
    if (variant == Variant::kOverlap) {
      TIDAL_ASSIGN_OR_RETURN(works, slowmo_->OuterStepAsync(kGamma, stream_));
    }
    for (size_t k = 0; k < buckets_.size(); ++k) {
      if (variant == Variant::kOverlap) TIDAL_RETURN_IF_ERROR(slowmo_->WaitBucket(k, stream_));
      TIDAL_RETURN_IF_ERROR(Layer(k));
    }
    for (tidal::Work& w : works) TIDAL_RETURN_IF_ERROR(w.Wait());
    return device_.SynchronizeStream(stream_);
  }

  tidal::Communicator& comm_;
  opt::Device& device_;
  Flags flags_;
  float* x_ = nullptr;
  float* scratch_ = nullptr;
  opt::DeviceStream stream_ = nullptr;
  std::vector<opt::Bucket> buckets_;
  std::unique_ptr<opt::DeviceSlowMo> slowmo_;
};

int Main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // each line as it is printed, under tidalrun too
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    std::fprintf(stderr,
                 "usage: outer_overlap_perf [--floats N] [--layers L] [--layer-reps R] "
                 "[--rounds K] [--iters I] (all > 0, L <= N)\n");
    return 2;
  }
  Result<opt::Device*> device = opt::CudaDevice();
  if (!device.ok()) {
    std::printf("outer_overlap_perf: needs a GPU: %s\n", device.status().ToString().c_str());
    return 0;
  }
  Result<std::unique_ptr<tidal::Communicator>> comm = tidal::Communicator::CreateWorld();
  if (!comm.ok()) {
    std::fprintf(stderr, "outer_overlap_perf: %s\n", comm.status().ToString().c_str());
    return 1;
  }
  const bool print = (*comm)->rank() == 0;
  Bench bench(**comm, **device, flags);
  Status st = bench.Init();
  std::vector<double> compute, blocking, overlap, hidden;
  if (print && st.ok()) {
    std::printf("# outer_overlap_perf: %d ranks, %zu floats in %zu buckets, %d kernels per layer\n",
                (*comm)->size(), flags.floats, flags.layers, flags.layer_reps);
    std::printf("%-6s %12s %12s %12s %9s\n", "round", "compute_ms", "blocking_ms", "overlap_ms",
                "hidden");
  }
  for (int round = 0; st.ok() && round < flags.rounds; ++round) {
    Result<double> c = bench.Run(Bench::Variant::kCompute);
    Result<double> b = c.ok() ? bench.Run(Bench::Variant::kBlocking) : c;
    Result<double> o = b.ok() ? bench.Run(Bench::Variant::kOverlap) : b;
    if (!o.ok()) {
      st = o.status();
      break;
    }
    compute.push_back(*c);
    blocking.push_back(*b);
    overlap.push_back(*o);
    hidden.push_back(*b > *c ? (*b - *o) / (*b - *c) : 0.0);
    if (print) {
      std::printf("%-6d %12.3f %12.3f %12.3f %8.1f%%\n", round, *c * 1e3, *b * 1e3, *o * 1e3,
                  100.0 * hidden.back());
    }
  }
  if (!st.ok()) {
    std::fprintf(stderr, "outer_overlap_perf: rank %d: %s\n", (*comm)->rank(),
                 st.ToString().c_str());
    return 1;
  }
  if (print) {
    std::printf("median %12.3f %12.3f %12.3f %8.1f%%\n", Median(compute) * 1e3,
                Median(blocking) * 1e3, Median(overlap) * 1e3, 100.0 * Median(hidden));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Main(argc, argv); }
