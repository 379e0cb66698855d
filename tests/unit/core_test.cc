// Unit tests of runtime/core: Status, Result, the error macros, checks and logging filters.
#include <gtest/gtest.h>

#include "tidal/core/check.h"
#include "tidal/core/logging.h"
#include "tidal/core/status.h"
#include "tidal/core/time.h"

namespace tidal {
namespace {

TEST(Status, OkIsDefaultAndCarriesNoMessage) {
  Status st;
  EXPECT_TRUE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kOk);
  EXPECT_EQ(st.message(), "");
  EXPECT_EQ(st.ToString(), "OK");
  EXPECT_EQ(sizeof(Status), sizeof(void*));  // OK allocates nothing: one pointer
}

TEST(Status, ErrorCarriesCodeAndMessage) {
  Status st = TimedOutError("rank ", 2, " recv from rank ", 1);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kTimedOut);
  EXPECT_EQ(st.message(), "rank 2 recv from rank 1");
  EXPECT_EQ(st.ToString(), "TIMED_OUT: rank 2 recv from rank 1");
  Status copy = st;
  EXPECT_EQ(copy, st);
  EXPECT_EQ(st.WithContext("allreduce").message(), "allreduce: rank 2 recv from rank 1");
  EXPECT_TRUE(Status().WithContext("x").ok());
}

TEST(Status, ErrnoErrorNamesTheCall) {
  Status st = ErrnoError("connect 127.0.0.1:1", ECONNREFUSED);
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_NE(st.message().find("connect 127.0.0.1:1"), std::string_view::npos);
  EXPECT_NE(st.message().find("errno 111"), std::string_view::npos);
}

TEST(Status, EveryCodeHasAName) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kInternal); ++c) {
    EXPECT_NE(StatusCodeName(static_cast<StatusCode>(c)), "UNKNOWN");
  }
}

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgumentError(x, " is odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  TIDAL_ASSIGN_OR_RETURN(int half, Half(x));
  TIDAL_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

Status CheckEven(int x) {
  TIDAL_RETURN_IF_ERROR(Half(x));
  return Status::Ok();
}

TEST(Result, HoldsValueOrError) {
  Result<int> r = Quarter(12);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 3);
  Result<int> bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "3 is odd");
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_FALSE(CheckEven(5).ok());
}

TEST(Result, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(ResultDeathTest, ValueOfErrorAborts) {
  Result<int> bad = InvalidArgumentError("nope");
  EXPECT_DEATH((void)bad.value(), "value\\(\\) of an error Result: INVALID_ARGUMENT: nope");
}

TEST(ResultDeathTest, ConstructionFromOkStatusAborts) {
  EXPECT_DEATH((void)Result<int>{Status::Ok()}, "Result constructed from an OK Status");
}

TEST(CheckDeathTest, PrintsConditionAndBothOperands) {
  int a = 3;
  int b = 4;
  EXPECT_DEATH(TIDAL_CHECK_EQ(a, b) << "extra context",
               "Check failed: a == b \\(3 vs. 4\\) extra context");
  EXPECT_DEATH(TIDAL_CHECK_LT(b, a), "Check failed: b < a \\(4 vs. 3\\)");
  EXPECT_DEATH(TIDAL_CHECK(a > b) << "why", "core_test.cc:[0-9]+ Check failed: a > b why");
  EXPECT_DEATH(TIDAL_CHECK_OK(InvalidArgumentError("bad")), "INVALID_ARGUMENT: bad");
}

TEST(Check, PassingChecksEvaluateOperandsOnce) {
  int calls = 0;
  auto next = [&calls] { return ++calls; };
  TIDAL_CHECK_EQ(next(), 1);
  TIDAL_CHECK(next() == 2);
  TIDAL_CHECK_OK(Status::Ok());
  EXPECT_EQ(calls, 2);
}

TEST(Logging, ParsesLevels) {
  LogLevel level = LogLevel::kNone;
  EXPECT_TRUE(ParseLogLevel("info", &level));
  EXPECT_EQ(level, LogLevel::kInfo);
  EXPECT_TRUE(ParseLogLevel("TRACE", &level));
  EXPECT_EQ(level, LogLevel::kTrace);
  EXPECT_FALSE(ParseLogLevel("loud", &level));
}

TEST(Logging, ParsesSubsystemsAndExclusions) {
  uint32_t mask = 0;
  EXPECT_TRUE(ParseLogSubsys("store,transport", &mask));
  EXPECT_EQ(mask, static_cast<uint32_t>(LogSubsys::kStore) |
                      static_cast<uint32_t>(LogSubsys::kTransport));
  EXPECT_TRUE(ParseLogSubsys("^STORE", &mask));
  EXPECT_EQ(mask, kAllSubsys & ~static_cast<uint32_t>(LogSubsys::kStore));
  EXPECT_TRUE(ParseLogSubsys("ALL", &mask));
  EXPECT_EQ(mask, kAllSubsys);
  EXPECT_FALSE(ParseLogSubsys("STORE,BOGUS", &mask));
}

TEST(Logging, LinesCarryRankLevelAndSubsystem) {
  SetLogLevel(LogLevel::kInfo);
  SetLogSubsystems(static_cast<uint32_t>(LogSubsys::kTest));
  ScopedLogRank rank(3);
  testing::internal::CaptureStderr();
  TIDAL_LOG(INFO, kTest) << "hello " << 42;
  TIDAL_LOG(INFO, kStore) << "filtered out by subsystem";
  TIDAL_LOG(DEBUG, kTest) << "filtered out by level";
  const std::string out = testing::internal::GetCapturedStderr();
  SetLogLevel(LogLevel::kWarn);
  SetLogSubsystems(kAllSubsys);
  EXPECT_NE(out.find("tidal[r3 pid "), std::string::npos) << out;
  EXPECT_NE(out.find("INFO TEST core_test.cc:"), std::string::npos) << out;
  EXPECT_NE(out.find("hello 42\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("filtered"), std::string::npos) << out;
}

TEST(Logging, DisabledStatementsDoNotEvaluateOperands) {
  SetLogLevel(LogLevel::kError);
  int evaluated = 0;
  auto touch = [&evaluated] { return ++evaluated; };
  TIDAL_LOG(DEBUG, kTest) << touch();
  SetLogLevel(LogLevel::kWarn);
  EXPECT_EQ(evaluated, 0);
}

TEST(Deadline, ExpiresAndRoundsPollTimeoutUp) {
  Deadline past = Deadline::AfterMs(-5);
  EXPECT_TRUE(past.Expired());
  EXPECT_EQ(past.PollTimeoutMs(), 0);
  Deadline soon = Deadline::After(std::chrono::microseconds(1500));
  EXPECT_FALSE(soon.Expired());
  EXPECT_GE(soon.PollTimeoutMs(), 1);
  EXPECT_LE(soon.PollTimeoutMs(), 2);
  EXPECT_EQ(Deadline::Never().PollTimeoutMs(), -1);
  EXPECT_FALSE(Deadline::Never().Expired());
  EXPECT_EQ(Deadline::Min(past, Deadline::Never()).when(), past.when());
}

}  // namespace
}  // namespace tidal
