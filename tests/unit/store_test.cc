// One behavioural suite run against every Store: InProcStore, FileStore (a temporary directory)
// and TcpStore (a TcpStoreServer on an ephemeral loopback port, with a secret). Threads that
// need their own connection get their own client from the environment.
#include "tidal/store/store.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tidal/core/check.h"
#include "tidal/core/time.h"
#include "tidal/store/file_store.h"
#include "tidal/store/in_proc_store.h"
#include "tidal/store/tcp_store.h"
#include "tidal/store/tcp_store_server.h"
#include "tidal/transport/wait.h"

namespace tidal {
namespace {

constexpr int64_t kLongMs = 10'000;  // for waits that must succeed
Deadline Long() { return Deadline::AfterMs(kLongMs); }

// Each environment hands out clients of one shared key space.
class InProcEnv {
 public:
  static constexpr const char* kName = "InProc";
  std::shared_ptr<Store> NewClient() { return store_; }

 private:
  std::shared_ptr<InProcStore> store_ = std::make_shared<InProcStore>();
};

class FileEnv {
 public:
  static constexpr const char* kName = "File";
  FileEnv() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tidal_store_XXXXXX").string();
    TIDAL_CHECK(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
  }
  ~FileEnv() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::shared_ptr<Store> NewClient() {
    Result<std::unique_ptr<FileStore>> store = FileStore::Open(dir_);
    TIDAL_CHECK_OK(store.status());
    return std::move(*store);
  }

 private:
  std::string dir_;
};

class TcpEnv {
 public:
  static constexpr const char* kName = "Tcp";
  TcpEnv() {
    TcpStoreServerOptions options;
    options.secret = "conformance-secret";
    Result<std::unique_ptr<TcpStoreServer>> server = TcpStoreServer::Start(options);
    TIDAL_CHECK_OK(server.status());
    server_ = std::move(*server);
  }
  std::shared_ptr<Store> NewClient() {
    TcpStoreOptions options;
    options.port = server_->port();
    options.secret = "conformance-secret";
    Result<std::unique_ptr<TcpStore>> store = TcpStore::Connect(options, Long());
    TIDAL_CHECK_OK(store.status());
    return std::move(*store);
  }

 private:
  std::unique_ptr<TcpStoreServer> server_;
};

template <typename Env>
class StoreConformance : public ::testing::Test {
 protected:
  Store& store() { return *main_; }
  Env env_;
  std::shared_ptr<Store> main_ = env_.NewClient();
};

struct EnvNames {
  template <typename Env>
  static std::string GetName(int) {
    return Env::kName;
  }
};
using Envs = ::testing::Types<InProcEnv, FileEnv, TcpEnv>;
TYPED_TEST_SUITE(StoreConformance, Envs, EnvNames);

Bytes Value(size_t size) {
  Bytes value(size);
  for (size_t i = 0; i < size; ++i) value[i] = static_cast<uint8_t>((i * 131) % 251);
  return value;
}

TYPED_TEST(StoreConformance, SetThenGetAndOverwrite) {
  ASSERT_TRUE(SetString(this->store(), "rank/0/addr", "10.0.0.1:1234", Long()).ok());
  EXPECT_EQ(*GetString(this->store(), "rank/0/addr", Long()), "10.0.0.1:1234");
  ASSERT_TRUE(SetString(this->store(), "rank/0/addr", "x", Long()).ok());
  EXPECT_EQ(*GetString(this->store(), "rank/0/addr", Long()), "x");
}

TYPED_TEST(StoreConformance, GetOfAPresentKeySucceedsWithAnExpiredDeadline) {
  ASSERT_TRUE(SetString(this->store(), "k", "v", Long()).ok());
  EXPECT_EQ(*GetString(this->store(), "k", Deadline::AfterMs(0)), "v");
}

TYPED_TEST(StoreConformance, GetWaitsForALaterSetFromAnotherThread) {
  std::shared_ptr<Store> setter = this->env_.NewClient();
  std::atomic<bool> getting{false};
  std::thread thread([&] {
    while (!getting.load()) std::this_thread::yield();
    EXPECT_TRUE(SetString(*setter, "late", "value", Long()).ok());
  });
  getting.store(true);
  Result<std::string> value = GetString(this->store(), "late", Long());
  thread.join();
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "value");
}

TYPED_TEST(StoreConformance, GetTimesOutWithinTheDeadlineAndSlack) {
  constexpr int64_t kTimeoutMs = 200;
  const Clock::time_point start = Clock::now();
  Result<Bytes> value = this->store().Get("rank/3/addr", Deadline::AfterMs(kTimeoutMs));
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(value.ok());
  EXPECT_EQ(value.status().code(), StatusCode::kTimedOut) << value.status();
  EXPECT_NE(value.status().message().find("'rank/3/addr'"), std::string_view::npos)
      << value.status();
  EXPECT_GE(elapsed, std::chrono::milliseconds(kTimeoutMs));
  EXPECT_LT(elapsed, std::chrono::milliseconds(kTimeoutMs + 500));
}

TYPED_TEST(StoreConformance, AddIsAtomicUnderEightThreads) {
  constexpr int kThreads = 8;
  constexpr int kAdds = 1000;
  std::vector<std::vector<int64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::shared_ptr<Store> client = this->env_.NewClient();
      for (int i = 0; i < kAdds; ++i) {
        Result<int64_t> value = client->Add("counter", 1, Long());
        ASSERT_TRUE(value.ok()) << value.status();
        seen[t].push_back(*value);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::vector<int64_t> all;
  for (const auto& values : seen) all.insert(all.end(), values.begin(), values.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), size_t{kThreads * kAdds});
  for (size_t i = 0; i < all.size(); ++i) ASSERT_EQ(all[i], static_cast<int64_t>(i + 1));
  EXPECT_EQ(*GetString(this->store(), "counter", Long()), std::to_string(kThreads * kAdds));
}

TYPED_TEST(StoreConformance, AddStoresDecimalTextAndRejectsOtherValues) {
  EXPECT_EQ(*this->store().Add("n", 5, Long()), 5);
  EXPECT_EQ(*this->store().Add("n", -7, Long()), -2);
  EXPECT_EQ(*GetString(this->store(), "n", Long()), "-2");
  ASSERT_TRUE(SetString(this->store(), "text", "12abc", Long()).ok());
  Result<int64_t> bad = this->store().Add("text", 1, Long());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument) << bad.status();
  ASSERT_TRUE(SetString(this->store(), "max", std::to_string(INT64_MAX), Long()).ok());
  EXPECT_EQ(this->store().Add("max", 1, Long()).status().code(), StatusCode::kInvalidArgument);
}

TYPED_TEST(StoreConformance, WaitForSeveralKeys) {
  const std::vector<std::string> keys = {"a", "b", "c"};
  std::shared_ptr<Store> setter = this->env_.NewClient();
  std::thread thread([&] {
    for (const std::string& key : keys) EXPECT_TRUE(SetString(*setter, key, key, Long()).ok());
  });
  EXPECT_TRUE(this->store().Wait(keys, Long()).ok());
  thread.join();
  const std::vector<std::string> with_missing = {"a", "missing", "c"};
  Status status = this->store().Wait(with_missing, Deadline::AfterMs(100));
  EXPECT_EQ(status.code(), StatusCode::kTimedOut);
  EXPECT_NE(status.message().find("'missing'"), std::string_view::npos) << status;
  EXPECT_TRUE(this->store().Wait({}, Deadline::AfterMs(0)).ok());
}

TYPED_TEST(StoreConformance, CheckDoesNotWait) {
  const std::vector<std::string> keys = {"x", "y"};
  EXPECT_FALSE(*this->store().Check(keys, Long()));
  ASSERT_TRUE(SetString(this->store(), "x", "1", Long()).ok());
  EXPECT_FALSE(*this->store().Check(keys, Long()));
  ASSERT_TRUE(SetString(this->store(), "y", "1", Long()).ok());
  EXPECT_TRUE(*this->store().Check(keys, Long()));
  EXPECT_TRUE(*this->store().Check({}, Long()));
}

TYPED_TEST(StoreConformance, DeleteRemovesAKey) {
  ASSERT_TRUE(SetString(this->store(), "gone", "1", Long()).ok());
  EXPECT_TRUE(*this->store().Delete("gone", Long()));
  EXPECT_FALSE(*this->store().Delete("gone", Long()));
  EXPECT_EQ(this->store().Get("gone", Deadline::AfterMs(20)).status().code(),
            StatusCode::kTimedOut);
  EXPECT_EQ(*this->store().Add("gone", 2, Long()), 2);  // absent counts as 0
}

TYPED_TEST(StoreConformance, BinaryKeysAndValuesKeepEveryByte) {
  const std::string key("bin\0/%~..\xff", 10);
  const Bytes value = {0, 1, 0, 255, 0, '%', '/'};
  ASSERT_TRUE(this->store().Set(key, value, Long()).ok());
  EXPECT_EQ(*this->store().Get(key, Long()), value);
  EXPECT_EQ(this->store().Get(std::string("bin"), Deadline::AfterMs(0)).status().code(),
            StatusCode::kTimedOut);
}

TYPED_TEST(StoreConformance, LargeAndEmptyValues) {
  const Bytes large = Value(size_t{1} << 20);
  ASSERT_TRUE(this->store().Set("large", large, Long()).ok());
  EXPECT_EQ(*this->store().Get("large", Long()), large);
  ASSERT_TRUE(this->store().Set("empty", Bytes(), Long()).ok());
  Result<Bytes> empty = this->store().Get("empty", Long());
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->empty());
  EXPECT_TRUE(*this->store().Check(std::vector<std::string>{"empty"}, Long()));
}

TYPED_TEST(StoreConformance, BadKeysAreInvalidArguments) {
  const std::string longest(4096, 'k');
  const std::string too_long(4097, 'k');
  ASSERT_TRUE(SetString(this->store(), longest, "ok", Long()).ok());
  EXPECT_EQ(*GetString(this->store(), longest, Long()), "ok");
  for (const std::string& bad : {std::string(), too_long}) {
    EXPECT_EQ(SetString(this->store(), bad, "v", Long()).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(this->store().Get(bad, Long()).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(this->store().Add(bad, 1, Long()).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(this->store().Delete(bad, Long()).status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(this->store().Wait(std::vector{bad}, Long()).code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(this->store().Check(std::vector{bad}, Long()).status().code(),
              StatusCode::kInvalidArgument);
  }
}

TYPED_TEST(StoreConformance, ThreadsExchangeAddresses) {
  constexpr int kRanks = 8;
  std::vector<std::thread> threads;
  for (int rank = 0; rank < kRanks; ++rank) {
    threads.emplace_back([&, rank] {
      std::shared_ptr<Store> client = this->env_.NewClient();
      const auto key = [](int r) { return "rank/" + std::to_string(r) + "/addr"; };
      EXPECT_TRUE(SetString(*client, key(rank), "addr" + std::to_string(rank), Long()).ok());
      const int peer = (rank + 1) % kRanks;
      Result<std::string> addr = GetString(*client, key(peer), Long());
      ASSERT_TRUE(addr.ok()) << addr.status();
      EXPECT_EQ(*addr, "addr" + std::to_string(peer));
    });
  }
  for (std::thread& thread : threads) thread.join();
}

// Cooperative mode: ranks are fibers on one thread, so a missing key must make the store call the
// thread's wait hook (letting the fiber that will set it run) instead of blocking the thread.
struct CooperativeState {
  Store* setter = nullptr;
  int calls = 0;
  bool inside = false;
  bool set = false;
};

void CooperativeHook(void* context) {
  auto* state = static_cast<CooperativeState*>(context);
  ++state->calls;
  if (state->inside || state->set || state->calls < 3) return;
  state->inside = true;  // the setter's own waits call the hook again
  state->set = SetString(*state->setter, "coop", "from-another-fiber", Long()).ok();
  state->inside = false;
}

TYPED_TEST(StoreConformance, MissingKeysYieldToTheCooperativeWaitHook) {
  std::shared_ptr<Store> setter = this->env_.NewClient();
  CooperativeState state;
  state.setter = setter.get();
  const WaitHookSlot previous = SetThreadWaitHook({&CooperativeHook, &state});
  Result<std::string> value = GetString(this->store(), "coop", Long());
  const std::vector<std::string> keys = {"coop", "never"};
  const Status wait = this->store().Wait(keys, Deadline::AfterMs(50));
  SetThreadWaitHook(previous);
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(*value, "from-another-fiber");
  EXPECT_GE(state.calls, 3);
  EXPECT_EQ(wait.code(), StatusCode::kTimedOut);
}

TEST(FileStoreProcesses, AddIsAtomicAcrossProcesses) {
  FileEnv env;
  constexpr int kAdds = 300;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::shared_ptr<Store> store = env.NewClient();
    for (int i = 0; i < kAdds; ++i) {
      if (!store->Add("shared", 1, Long()).ok()) ::_exit(1);
    }
    ::_exit(0);
  }
  std::shared_ptr<Store> store = env.NewClient();
  for (int i = 0; i < kAdds; ++i) ASSERT_TRUE(store->Add("shared", 1, Long()).ok());
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(*GetString(*store, "shared", Long()), std::to_string(2 * kAdds));
}

}  // namespace
}  // namespace tidal
