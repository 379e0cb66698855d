// DeviceBuffer and the pattern kernel; skips without a GPU (and without CUDA in the build).
#include "tidal/cuda/device_buffer.h"

#include <gtest/gtest.h>

#include <vector>

#include "tidal/core/build_info.h"

namespace tidal {
namespace {

void SkipWithoutGpu() {
  std::string why;
  if (!CudaCompiled()) GTEST_SKIP() << "built without CUDA";
  if (CudaDeviceCount(&why) == 0) GTEST_SKIP() << "no GPU visible: " << why;
}

TEST(DeviceBuffer, KernelPatternMatchesTheHostFormula) {
  SkipWithoutGpu();
  if (::testing::Test::IsSkipped()) return;
  for (size_t count : {size_t{0}, size_t{1}, size_t{1023}, size_t{3} << 20}) {
    Result<std::unique_ptr<DeviceBuffer>> buffer = DeviceBuffer::Allocate(count * 4);
    ASSERT_TRUE(buffer.ok()) << buffer.status();
    ASSERT_TRUE((*buffer)->FillPattern(count, 3, 7).ok());
    std::vector<uint32_t> got(count), want(count);
    ASSERT_TRUE((*buffer)->CopyToHost(got.data(), count * 4).ok());
    FillPatternHost(want.data(), count, 3, 7);
    EXPECT_EQ(got, want) << "count " << count;
  }
}

TEST(DeviceBuffer, RejectsOversizedRequests) {
  SkipWithoutGpu();
  if (::testing::Test::IsSkipped()) return;
  Result<std::unique_ptr<DeviceBuffer>> buffer = DeviceBuffer::Allocate(16);
  ASSERT_TRUE(buffer.ok()) << buffer.status();
  EXPECT_EQ((*buffer)->FillPattern(5, 0, 0).code(), StatusCode::kInvalidArgument);
  std::vector<uint8_t> host(32);
  EXPECT_EQ((*buffer)->CopyToHost(host.data(), 32).code(), StatusCode::kInvalidArgument);
}

TEST(DeviceBuffer, WithoutCudaEveryCallDeclines) {
  if (CudaCompiled()) GTEST_SKIP() << "built with CUDA";
  Result<std::unique_ptr<DeviceBuffer>> buffer = DeviceBuffer::Allocate(16);
  ASSERT_FALSE(buffer.ok());
  EXPECT_EQ(buffer.status().code(), StatusCode::kNotSupported);
}

TEST(Pattern, DistinctPerRankSeedAndIndex) {
  EXPECT_NE(PatternWord(0, 0, 0), PatternWord(1, 0, 0));
  EXPECT_NE(PatternWord(5, 0, 0), PatternWord(5, 1, 0));
  EXPECT_NE(PatternWord(5, 1, 0), PatternWord(5, 1, 1));
  std::vector<uint32_t> host(4);
  FillPatternHost(host.data(), host.size(), 2, 9);
  EXPECT_EQ(host[3], PatternWord(3, 2, 9));
}

}  // namespace
}  // namespace tidal
