// Data type and reduction names parse both ways, as the perf tools and the C API spell them.
#include "tidal/coll/types.h"

#include <gtest/gtest.h>

namespace tidal::coll {
namespace {

TEST(Types, NamesRoundTrip) {
  for (DataType type : kAllDataTypes) {
    Result<DataType> parsed = ParseDataType(DataTypeName(type));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, type);
    EXPECT_GT(DataTypeSize(type), 0u);
  }
  for (ReduceOp op : kAllReduceOps) {
    Result<ReduceOp> parsed = ParseReduceOp(ReduceOpName(op));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, op);
  }
}

TEST(Types, AliasesAndErrors) {
  EXPECT_EQ(*ParseDataType("FP16"), DataType::kFloat16);
  EXPECT_EQ(*ParseDataType("bf16"), DataType::kBFloat16);
  EXPECT_EQ(DataTypeSize(DataType::kBFloat16), 2u);
  Result<DataType> bad = ParseDataType("complex");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("complex"), std::string_view::npos);
  EXPECT_FALSE(ParseReduceOp("xor").ok());
}

}  // namespace
}  // namespace tidal::coll
