// TcpStore's connection handling (retry until the server appears, deadlines against a silent
// server, reconnection after a restart), the loopback-only rule, options from the environment,
// and the pure helpers under the TCP store (constant-time compare, wire reader).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>

#include <cstring>
#include <functional>
#include <string>
#include <thread>

#include "tidal/core/check.h"
#include "tidal/core/knobs.h"
#include "tidal/store/socket_util.h"
#include "tidal/store/store_util.h"
#include "tidal/store/tcp_store.h"
#include "tidal/store/tcp_store_server.h"
#include "tidal/store/tcp_store_wire.h"

namespace tidal {
namespace {

using store_internal::UniqueFd;

Deadline Long() { return Deadline::AfterMs(10'000); }

Result<std::unique_ptr<TcpStoreServer>> StartOn(uint16_t port, std::string bind = "127.0.0.1",
                                                std::string secret = "s") {
  TcpStoreServerOptions options;
  options.bind_address = std::move(bind);
  options.port = port;
  options.secret = std::move(secret);
  return TcpStoreServer::Start(options);
}

Result<std::unique_ptr<TcpStore>> ClientOf(std::string host, uint16_t port, Deadline deadline,
                                           std::string secret = "s") {
  TcpStoreOptions options;
  options.host = std::move(host);
  options.port = port;
  options.secret = std::move(secret);
  return TcpStore::Connect(options, deadline);
}

// A port that was free a moment ago (the server bound to it has stopped).
uint16_t FreePort() {
  Result<std::unique_ptr<TcpStoreServer>> server = StartOn(0);
  TIDAL_CHECK_OK(server.status());
  return (*server)->port();
}

TEST(TcpStoreClient, ConnectRetriesUntilTheServerAppears) {
  const uint16_t port = FreePort();
  Result<std::unique_ptr<TcpStore>> client = Status(StatusCode::kInternal, "not run");
  std::atomic<bool> trying{false};
  std::thread connector([&] {
    trying.store(true);
    client = ClientOf("127.0.0.1", port, Long());
  });
  while (!trying.load()) std::this_thread::yield();
  Result<std::unique_ptr<TcpStoreServer>> server = StartOn(port);
  ASSERT_TRUE(server.ok()) << server.status();
  connector.join();
  ASSERT_TRUE(client.ok()) << client.status();
  EXPECT_TRUE(SetString(**client, "k", "v", Long()).ok());
}

TEST(TcpStoreClient, ConnectTimesOutWithoutAServer) {
  const uint16_t port = FreePort();
  const Clock::time_point start = Clock::now();
  Result<std::unique_ptr<TcpStore>> client = ClientOf("127.0.0.1", port, Deadline::AfterMs(300));
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kTimedOut) << client.status();
  EXPECT_NE(client.status().message().find(std::to_string(port)), std::string_view::npos);
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1000));
}

TEST(TcpStoreClient, DeadlineHoldsAgainstASilentServer) {
  uint16_t port = 0;
  // Listens but never accepts or answers.
  Result<UniqueFd> listener = store_internal::Listen("127.0.0.1", 0, &port);
  ASSERT_TRUE(listener.ok()) << listener.status();
  const Clock::time_point start = Clock::now();
  Result<std::unique_ptr<TcpStore>> client = ClientOf("127.0.0.1", port, Deadline::AfterMs(300));
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kTimedOut) << client.status();
  EXPECT_LT(elapsed, std::chrono::milliseconds(1000));
}

TEST(TcpStoreClient, ReconnectsAfterTheServerRestarts) {
  Result<std::unique_ptr<TcpStoreServer>> server = StartOn(0);
  ASSERT_TRUE(server.ok());
  const uint16_t port = (*server)->port();
  Result<std::unique_ptr<TcpStore>> client = ClientOf("127.0.0.1", port, Long());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(SetString(**client, "k", "1", Long()).ok());
  (*server)->Stop();
  EXPECT_EQ(SetString(**client, "k", "2", Long()).code(), StatusCode::kUnavailable);
  server = StartOn(port);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_TRUE(SetString(**client, "k", "3", Long()).ok());
  EXPECT_EQ(*GetString(**client, "k", Long()), "3");
}

TEST(TcpStoreClient, ErrorsNameTheOperationKeyAndServer) {
  Result<std::unique_ptr<TcpStoreServer>> server = StartOn(0);
  ASSERT_TRUE(server.ok());
  Result<std::unique_ptr<TcpStore>> client = ClientOf("127.0.0.1", (*server)->port(), Long());
  ASSERT_TRUE(client.ok());
  Result<Bytes> value = (*client)->Get("rank/3/addr", Deadline::AfterMs(100));
  EXPECT_EQ(value.status().code(), StatusCode::kTimedOut);
  EXPECT_TRUE(value.status().message().starts_with(
      "store get 'rank/3/addr' from 127.0.0.1:" + std::to_string((*server)->port()) +
      ": timed out after "))
      << value.status();
}

// Finds a non-loopback IPv4 address of this host, if it has one.
std::string NonLoopbackAddress() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* it = list; it != nullptr && found.empty(); it = it->ifa_next) {
    if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != AF_INET) continue;
    sockaddr_storage address{};
    std::memcpy(&address, it->ifa_addr, sizeof(sockaddr_in));
    if (store_internal::IsLoopback(address)) continue;
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(it->ifa_addr)->sin_addr, text,
                sizeof(text));
    found = text;
  }
  ::freeifaddrs(list);
  return found;
}

TEST(TcpStoreClient, WithoutASecretOnlyLoopbackClientsAreAdmitted) {
  Result<std::unique_ptr<TcpStoreServer>> server = StartOn(0, "0.0.0.0", "");
  ASSERT_TRUE(server.ok()) << server.status();
  const uint16_t port = (*server)->port();
  EXPECT_TRUE(ClientOf("127.0.0.1", port, Long(), "").ok());
  const std::string address = NonLoopbackAddress();
  if (address.empty()) GTEST_SKIP() << "no non-loopback IPv4 address";
  Result<std::unique_ptr<TcpStore>> remote = ClientOf(address, port, Deadline::AfterMs(300), "");
  EXPECT_FALSE(remote.ok());
}

TEST(TcpStoreClient, IsLoopbackRecognizesEveryLoopbackForm) {
  const auto v4 = [](const char* text) {
    sockaddr_storage s{};
    auto* in = reinterpret_cast<sockaddr_in*>(&s);
    in->sin_family = AF_INET;
    ::inet_pton(AF_INET, text, &in->sin_addr);
    return store_internal::IsLoopback(s);
  };
  const auto v6 = [](const char* text) {
    sockaddr_storage s{};
    auto* in = reinterpret_cast<sockaddr_in6*>(&s);
    in->sin6_family = AF_INET6;
    ::inet_pton(AF_INET6, text, &in->sin6_addr);
    return store_internal::IsLoopback(s);
  };
  EXPECT_TRUE(v4("127.0.0.1"));
  EXPECT_TRUE(v4("127.255.0.9"));
  EXPECT_FALSE(v4("10.0.0.1"));
  EXPECT_FALSE(v4("128.0.0.1"));
  EXPECT_TRUE(v6("::1"));
  EXPECT_TRUE(v6("::ffff:127.0.0.1"));
  EXPECT_FALSE(v6("::ffff:10.0.0.1"));
  EXPECT_FALSE(v6("fe80::1"));
}

TEST(TcpStoreServerOptions, DefaultsMatchTheKnobTableAndFromEnvReadsIt) {
  const TcpStoreServerOptions defaults;
  EXPECT_EQ(std::to_string(defaults.max_request_bytes),
            GetKnobInfo(Knob::kStoreMaxValue).default_value);
  EXPECT_EQ(std::to_string(defaults.max_total_bytes),
            GetKnobInfo(Knob::kStoreMaxBytes).default_value);
  ::setenv("TIDAL_STORE_MAX_VALUE", "4096", 1);
  ::setenv("TIDAL_STORE_MAX_BYTES", "-5", 1);  // ignored with a warning
  ::setenv("TIDAL_SECRET", "from-env", 1);
  const TcpStoreServerOptions options = TcpStoreServerOptions::FromEnv();
  ::unsetenv("TIDAL_STORE_MAX_VALUE");
  ::unsetenv("TIDAL_STORE_MAX_BYTES");
  ::unsetenv("TIDAL_SECRET");
  EXPECT_EQ(options.max_request_bytes, 4096u);
  EXPECT_EQ(options.max_total_bytes, defaults.max_total_bytes);
  EXPECT_EQ(options.secret, "from-env");
  EXPECT_EQ(options.bind_address, "127.0.0.1");
}

TEST(TcpStoreServerOptions, BadOptionsAreRejected) {
  TcpStoreServerOptions options;
  options.secret = std::string(1001, 's');
  EXPECT_EQ(TcpStoreServer::Start(options).status().code(), StatusCode::kInvalidArgument);
  options.secret = "s";
  options.max_request_bytes = 0;
  EXPECT_EQ(TcpStoreServer::Start(options).status().code(), StatusCode::kInvalidArgument);
  options.max_request_bytes = 1024;
  options.bind_address = "";
  EXPECT_EQ(TcpStoreServer::Start(options).status().code(), StatusCode::kInvalidArgument);
}

TEST(StoreInternals, ConstantTimeEqualsComparesWholeStrings) {
  using store_internal::ConstantTimeEquals;
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("secret", "secret"));
  EXPECT_FALSE(ConstantTimeEquals("secret", "secreT"));
  EXPECT_FALSE(ConstantTimeEquals("secret", std::string_view("secret\0", 7)));
  EXPECT_FALSE(ConstantTimeEquals(std::string_view("secret\0", 7), "secret"));
  EXPECT_FALSE(ConstantTimeEquals("", "x"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

TEST(StoreInternals, WireReaderRejectsTruncatedFields) {
  Bytes payload;
  store_internal::WireWriter w(&payload);
  w.U32(7);
  w.Blob(std::string_view("key"));
  payload.pop_back();
  store_internal::WireReader r(payload);
  uint32_t value = 0;
  std::string_view text;
  ASSERT_TRUE(r.U32(&value));
  EXPECT_EQ(value, 7u);
  EXPECT_FALSE(r.Text(&text));
  EXPECT_EQ(r.remaining(), 6u);  // a failed read consumes nothing
  int64_t wide = 0;
  EXPECT_FALSE(r.I64(&wide));
}

}  // namespace
}  // namespace tidal
