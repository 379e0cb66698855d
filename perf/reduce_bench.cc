// Micro-benchmarks of the CPU reduction kernels (tidal/coll/reduce.h) beside memcpy.
//
// reduce/<isa>/<type>/<op>/<bytes> runs the in-place step inout[i] = inout[i] op in[i] with one
// variant; bytes processed count both inputs and the output (3 x buffer size), so GB/s compares
// directly with memcpy/<bytes>, which counts its read and its write (2 x buffer size). A kernel at
// memory speed therefore reports about the same GB/s as memcpy.
//   build/bin/reduce_bench --benchmark_filter='memcpy|avx2/float/sum'
//
// Thread safety: single-threaded benchmark program.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "tidal/coll/reduce.h"

namespace {

using tidal::coll::DataType;
using tidal::coll::ReduceIsa;
using tidal::coll::ReduceOp;

constexpr size_t kSizes[] = {size_t{1} << 20, size_t{64} << 20};

std::string SizeName(size_t bytes) {
  return bytes >= (size_t{1} << 20) ? std::to_string(bytes >> 20) + "MiB"
                                    : std::to_string(bytes >> 10) + "KiB";
}

// Small values (bytes 0..3 pattern) keep every type finite under sum and max.
std::vector<unsigned char> Buffer(size_t bytes) {
  std::vector<unsigned char> buf(bytes);
  for (size_t i = 0; i < bytes; ++i) buf[i] = static_cast<unsigned char>(i % 4 == 0 ? 0 : 0x3C);
  return buf;
}

void BenchMemcpy(benchmark::State& state, size_t bytes) {
  std::vector<unsigned char> src = Buffer(bytes);
  std::vector<unsigned char> dst(bytes);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 *
                          static_cast<int64_t>(bytes));
}

void BenchReduce(benchmark::State& state, ReduceIsa isa, DataType type, ReduceOp op, size_t bytes) {
  std::vector<unsigned char> inout = Buffer(bytes);
  std::vector<unsigned char> in = Buffer(bytes);
  const size_t count = bytes / tidal::coll::DataTypeSize(type);
  for (auto _ : state) {
    tidal::Status status =
        tidal::coll::ReduceIntoIsa(isa, type, op, inout.data(), inout.data(), in.data(), count);
    if (!status.ok()) {
      state.SkipWithError(status.message().data());
      break;
    }
    benchmark::DoNotOptimize(inout.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 3 *
                          static_cast<int64_t>(bytes));
}

}  // namespace

int main(int argc, char** argv) {
  for (size_t bytes : kSizes) {
    benchmark::RegisterBenchmark(("memcpy/" + SizeName(bytes)).c_str(), BenchMemcpy, bytes);
    for (ReduceIsa isa : tidal::coll::AvailableReduceIsas()) {
      for (DataType type :
           {DataType::kFloat32, DataType::kBFloat16, DataType::kFloat16, DataType::kInt32}) {
        for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMax}) {
          const std::string name = "reduce/" + std::string(tidal::coll::ReduceIsaName(isa)) + "/" +
                                   std::string(tidal::coll::DataTypeName(type)) + "/" +
                                   std::string(tidal::coll::ReduceOpName(op)) + "/" +
                                   SizeName(bytes);
          benchmark::RegisterBenchmark(name.c_str(), BenchReduce, isa, type, op, bytes);
        }
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
