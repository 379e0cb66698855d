// CUDA reduction kernels (tidal/coll/cuda/reduce_cuda.h) against the CPU oracle, bit for bit,
// NaN payloads and signs included: every type x op x count (0, 1, 7, 1023, 2^20 + 3) over
// arbitrary bits and every pair of special values (NaN, Inf, overflow, signed zero, subnormals),
// with the output disjoint, aliased to a and to b, at matching and mismatched offsets modulo 16
// (the packed and the element-wise kernels); FinishAvgDevice against FinishAvg. Bytes around the
// output must stay untouched. Skips without a GPU; argument checks need CUDA but no GPU; without
// CUDA compiled in, the stub must decline.
#include "tidal/coll/cuda/reduce_cuda.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cuda/reduce_cuda_test_data.h"
#include "tidal/coll/reduce.h"
#include "tidal/core/build_info.h"
#include "tidal/cuda/device_buffer.h"

namespace tidal::coll {
namespace {

constexpr size_t kCounts[] = {0, 1, 7, 1023, (size_t{1} << 20) + 3};
constexpr size_t kSlack = 32;  // elements around each buffer for offsets and guard bytes

void SkipWithoutGpu() {
  std::string why;
  if (!CudaCompiled()) GTEST_SKIP() << "built without CUDA";
  if (CudaDeviceCount(&why) == 0) GTEST_SKIP() << "no GPU visible: " << why;
}

enum class Alias { kNone, kOutIsA, kOutIsB };

// Element offsets of out, a and b from their buffers' (256-byte aligned) starts.
struct Layout {
  size_t out;
  size_t a;
  size_t b;
  Alias alias;
};
constexpr Layout kLayouts[] = {
    {0, 0, 0, Alias::kNone},   {1, 1, 1, Alias::kNone},   {3, 1, 2, Alias::kNone},
    {5, 5, 5, Alias::kOutIsA}, {0, 2, 0, Alias::kOutIsB}, {7, 7, 7, Alias::kOutIsB},
};

std::unique_ptr<DeviceBuffer> Upload(const std::vector<unsigned char>& host) {
  Result<std::unique_ptr<DeviceBuffer>> buffer = DeviceBuffer::Allocate(host.size());
  EXPECT_TRUE(buffer.ok()) << buffer.status();
  if (!buffer.ok()) return nullptr;
  EXPECT_TRUE((*buffer)->CopyFromHost(host.data(), host.size()).ok());
  return std::move(*buffer);
}

std::vector<unsigned char> Download(const DeviceBuffer& buffer) {
  std::vector<unsigned char> host(buffer.bytes());
  const Status status = buffer.CopyToHost(host.data(), host.size());
  EXPECT_TRUE(status.ok()) << status;
  return host;
}

// One ReduceDevice call in `layout` against ReduceReference on the same bytes.
void CheckLayout(DataType type, ReduceOp op, size_t count, const Layout& layout,
                 const std::vector<unsigned char>& a, const std::vector<unsigned char>& b) {
  const size_t size = DataTypeSize(type);
  SCOPED_TRACE(::testing::Message() << DataTypeName(type) << " " << ReduceOpName(op) << " count "
                                    << count << " offsets " << layout.out << "/" << layout.a << "/"
                                    << layout.b << " alias " << static_cast<int>(layout.alias));
  const std::vector<unsigned char> guard(a.size(), 0xA5);
  std::vector<unsigned char> want_a = a;
  std::vector<unsigned char> want_b = b;
  std::vector<unsigned char> want_out = guard;
  std::vector<unsigned char>& want = layout.alias == Alias::kOutIsA   ? want_a
                                     : layout.alias == Alias::kOutIsB ? want_b
                                                                      : want_out;
  ASSERT_TRUE(ReduceReference(type, op, want.data() + layout.out * size, a.data() + layout.a * size,
                              b.data() + layout.b * size, count)
                  .ok());
  std::unique_ptr<DeviceBuffer> da = Upload(a);
  std::unique_ptr<DeviceBuffer> db = Upload(b);
  std::unique_ptr<DeviceBuffer> dout = Upload(guard);
  ASSERT_TRUE(da && db && dout);
  DeviceBuffer& out_buffer = layout.alias == Alias::kOutIsA   ? *da
                             : layout.alias == Alias::kOutIsB ? *db
                                                              : *dout;
  auto* out = static_cast<unsigned char*>(out_buffer.data()) + layout.out * size;
  const Status status =
      ReduceDevice(type, op, out, static_cast<unsigned char*>(da->data()) + layout.a * size,
                   static_cast<unsigned char*>(db->data()) + layout.b * size, count, nullptr);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(testing::SameElements(Download(*da), want_a, size)) << "a";
  EXPECT_TRUE(testing::SameElements(Download(*db), want_b, size)) << "b";
  EXPECT_TRUE(testing::SameElements(Download(*dout), want_out, size)) << "out";
}

class ReduceCudaTest : public ::testing::TestWithParam<DataType> {};

TEST_P(ReduceCudaTest, EveryOpMatchesReferenceBitForBit) {
  SkipWithoutGpu();
  if (IsSkipped()) return;
  const DataType type = GetParam();
  const size_t n = testing::SpecialBits(type).size();
  for (size_t count : kCounts) {
    const std::vector<unsigned char> inputs[][2] = {
        {testing::RandomBytes(type, count, kSlack, 1),
         testing::RandomBytes(type, count, kSlack, 2)},
        {testing::SpecialBytes(type, count, kSlack, 1),
         testing::SpecialBytes(type, count, kSlack, n)}};
    for (ReduceOp op : kAllReduceOps) {
      for (const auto& ab : inputs) {
        for (const Layout& layout : kLayouts) {
          CheckLayout(type, op, count, layout, ab[0], ab[1]);
          if (HasFailure()) return;
        }
      }
    }
  }
}

TEST_P(ReduceCudaTest, FinishAvgMatchesCpuBitForBit) {
  SkipWithoutGpu();
  if (IsSkipped()) return;
  const DataType type = GetParam();
  const size_t size = DataTypeSize(type);
  for (size_t count : kCounts) {
    for (const std::vector<unsigned char>& data : {testing::RandomBytes(type, count, kSlack, 3),
                                                   testing::SpecialBytes(type, count, kSlack, 1)}) {
      for (size_t offset : {size_t{0}, size_t{1}, size_t{3}}) {
        for (int n : {1, 3, 1000, 2147483647}) {
          SCOPED_TRACE(::testing::Message() << DataTypeName(type) << " count " << count
                                            << " offset " << offset << " n " << n);
          std::vector<unsigned char> want = data;
          ASSERT_TRUE(FinishAvg(type, want.data() + offset * size, count, n).ok());
          std::unique_ptr<DeviceBuffer> buffer = Upload(data);
          ASSERT_TRUE(buffer);
          const Status status = FinishAvgDevice(
              type, static_cast<unsigned char*>(buffer->data()) + offset * size, count, n, nullptr);
          ASSERT_TRUE(status.ok()) << status;
          ASSERT_TRUE(testing::SameElements(Download(*buffer), want, size));
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ReduceCudaTest, ::testing::ValuesIn(kAllDataTypes),
                         [](const ::testing::TestParamInfo<DataType>& p) {
                           return std::string(DataTypeName(p.param));
                         });

// Fake device addresses: the checks must reject them before any CUDA call (no GPU needed).
void* Address(uintptr_t address) { return reinterpret_cast<void*>(address); }

TEST(ReduceCuda, RejectsBadArgumentsLikeTheCpuKernels) {
  if (!CudaCompiled()) GTEST_SKIP() << "built without CUDA";
  const auto f32 = DataType::kFloat32;
  void* p = Address(0x10000);
  void* q = Address(0x20000);
  auto code = [](const Status& status) { return status.code(); };
  EXPECT_EQ(code(ReduceDevice(static_cast<DataType>(8), ReduceOp::kSum, p, p, q, 4, nullptr)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code(ReduceDevice(f32, static_cast<ReduceOp>(5), p, p, q, 4, nullptr)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code(ReduceDevice(f32, ReduceOp::kSum, nullptr, p, q, 4, nullptr)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code(ReduceDevice(f32, ReduceOp::kSum, p, Address(0x20002), q, 4, nullptr)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code(ReduceDevice(f32, ReduceOp::kSum, Address(0x10004), p, q, 4, nullptr)),
            StatusCode::kInvalidArgument);  // out overlaps a partially
  EXPECT_TRUE(ReduceDevice(f32, ReduceOp::kSum, nullptr, nullptr, nullptr, 0, nullptr).ok());
  EXPECT_EQ(code(FinishAvgDevice(f32, p, 4, 0, nullptr)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(FinishAvgDevice(static_cast<DataType>(8), p, 4, 2, nullptr)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(code(FinishAvgDevice(f32, nullptr, 4, 2, nullptr)), StatusCode::kInvalidArgument);
  EXPECT_EQ(code(FinishAvgDevice(DataType::kInt64, Address(0x10004), 4, 2, nullptr)),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(FinishAvgDevice(f32, nullptr, 0, 2, nullptr).ok());
}

TEST(ReduceCuda, WithoutAGpuAValidCallIsUnavailable) {
  std::string why;
  if (!CudaCompiled()) GTEST_SKIP() << "built without CUDA";
  if (CudaDeviceCount(&why) > 0) GTEST_SKIP() << "a GPU is visible";
  float* p = static_cast<float*>(Address(0x10000));
  EXPECT_EQ(ReduceDevice(DataType::kFloat32, ReduceOp::kSum, p, p, p + 4, 4, nullptr).code(),
            StatusCode::kUnavailable);
  EXPECT_EQ(FinishAvgDevice(DataType::kFloat32, p, 4, 2, nullptr).code(), StatusCode::kUnavailable);
}

#if !defined(TIDAL_HAVE_CUDA)
TEST(ReduceCuda, WithoutCudaTheStubDeclines) {
  float x[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  EXPECT_EQ(ReduceDevice(DataType::kFloat32, ReduceOp::kSum, x, x, x, 4, nullptr).code(),
            StatusCode::kNotSupported);
  EXPECT_EQ(FinishAvgDevice(DataType::kFloat32, x, 4, 2, nullptr).code(),
            StatusCode::kNotSupported);
}
#endif

}  // namespace
}  // namespace tidal::coll
