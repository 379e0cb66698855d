// TcpStoreServer under attack and failure: wrong secrets, garbage, huge length prefixes, half-open
// and oversized requests, server shutdown, many clients, the byte and connection caps; and the
// client's connect retry, deadlines and reconnection. Raw sockets speak the wire format of
// tcp_store_wire.h directly.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tidal/core/check.h"
#include "tidal/store/socket_util.h"
#include "tidal/store/tcp_store.h"
#include "tidal/store/tcp_store_server.h"
#include "tidal/store/tcp_store_wire.h"

namespace tidal {
namespace {

using store_internal::Op;
using store_internal::UniqueFd;
using store_internal::WireReader;
using store_internal::WireWriter;

constexpr char kSecret[] = "the-job-secret";
Deadline Long() { return Deadline::AfterMs(10'000); }

std::unique_ptr<TcpStoreServer> StartServer(
    const std::function<void(TcpStoreServerOptions&)>& tweak = {}) {
  TcpStoreServerOptions options;
  options.secret = kSecret;
  if (tweak) tweak(options);
  Result<std::unique_ptr<TcpStoreServer>> server = TcpStoreServer::Start(options);
  TIDAL_CHECK_OK(server.status());
  return std::move(*server);
}

Result<std::unique_ptr<TcpStore>> Client(uint16_t port, std::string secret = kSecret,
                                         Deadline deadline = Long()) {
  TcpStoreOptions options;
  options.port = port;
  options.secret = std::move(secret);
  return TcpStore::Connect(options, deadline);
}

// Waits (yielding, never sleeping) until `done` holds; false at the deadline.
bool Eventually(const std::function<bool()>& done, Deadline deadline = Long()) {
  while (!done()) {
    if (deadline.Expired()) return false;
    std::this_thread::yield();
  }
  return true;
}

// A blocking raw TCP connection to the server.
class Raw {
 public:
  explicit Raw(uint16_t port) {
    Result<UniqueFd> fd = store_internal::ConnectOnce("127.0.0.1", port, Long());
    TIDAL_CHECK_OK(fd.status());
    fd_ = std::move(*fd);
  }
  void Send(const Bytes& bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      if (store_internal::WaitFd(fd_.get(), POLLOUT, Long()) <= 0) break;
      const ssize_t n = ::send(fd_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
  }
  void Send(std::string_view text) { Send(ToBytes(text)); }
  // Reads one frame's payload; nullopt on EOF, error or deadline.
  std::optional<Bytes> ReadFrame(Deadline deadline = Long()) {
    uint8_t header[4];
    if (!ReadExactly(header, 4, deadline)) return std::nullopt;
    Bytes payload(store_internal::LoadLength(header));
    if (!ReadExactly(payload.data(), payload.size(), deadline)) return std::nullopt;
    return payload;
  }
  // Reads and discards until EOF; true if EOF came before the deadline.
  bool ReadsEof(Deadline deadline) {
    uint8_t buffer[4096];
    while (store_internal::WaitFd(fd_.get(), POLLIN, deadline) > 0) {
      const ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
    }
    return false;
  }
  void Close() { fd_.Reset(); }

 private:
  bool ReadExactly(uint8_t* out, size_t size, Deadline deadline) {
    while (size > 0) {
      if (store_internal::WaitFd(fd_.get(), POLLIN, deadline) <= 0) return false;
      const ssize_t n = ::recv(fd_.get(), out, size, MSG_DONTWAIT);
      if (n <= 0) return false;
      out += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }
  UniqueFd fd_;
};

Bytes Frame(uint32_t id, Op op, const std::function<void(WireWriter&)>& fields) {
  Bytes frame;
  WireWriter w(&frame);
  w.Start();
  w.U32(id);
  w.U8(static_cast<uint8_t>(op));
  fields(w);
  w.Finish();
  return frame;
}

Bytes HelloFrame(std::string_view secret) {
  return Frame(0, Op::kHello, [&](WireWriter& w) {
    w.U32(store_internal::kHelloMagic);
    w.U16(store_internal::kProtocolVersion);
    w.Blob(secret);
  });
}

// The status code of a reply payload.
StatusCode CodeOf(const Bytes& payload) {
  WireReader r(payload);
  uint32_t id = 0;
  uint8_t code = 0;
  TIDAL_CHECK(r.U32(&id) && r.U8(&code));
  return static_cast<StatusCode>(code);
}

// A raw connection that has authenticated.
Raw Authenticated(uint16_t port) {
  Raw raw(port);
  raw.Send(HelloFrame(kSecret));
  std::optional<Bytes> reply = raw.ReadFrame();
  TIDAL_CHECK(reply.has_value());
  TIDAL_CHECK(CodeOf(*reply) == StatusCode::kOk);
  return raw;
}

// The server still serves a well-behaved client.
void ExpectServes(uint16_t port) {
  Result<std::unique_ptr<TcpStore>> client = Client(port);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE(SetString(**client, "alive", "yes", Long()).ok());
  EXPECT_EQ(*GetString(**client, "alive", Long()), "yes");
}

TEST(TcpStoreServer, WrongSecretIsRefusedAndTheServerKeepsServing) {
  auto server = StartServer();
  for (const std::string& secret :
       std::vector<std::string>{"wrong", "", std::string(kSecret) + "x", "the-job-secreT"}) {
    Result<std::unique_ptr<TcpStore>> client = Client(server->port(), secret);
    ASSERT_FALSE(client.ok());
    EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument) << client.status();
    EXPECT_NE(client.status().message().find("secret"), std::string_view::npos) << client.status();
  }
  ExpectServes(server->port());
}

TEST(TcpStoreServer, GarbageBytesCloseTheConnection) {
  auto server = StartServer();
  Raw raw(server->port());
  raw.Send("GET / HTTP/1.1\r\nHost: store\r\n\r\n");
  std::optional<Bytes> reply = raw.ReadFrame(Deadline::AfterMs(2000));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(CodeOf(*reply), StatusCode::kInvalidArgument);
  EXPECT_TRUE(raw.ReadsEof(Deadline::AfterMs(2000)));
  ExpectServes(server->port());
}

TEST(TcpStoreServer, RequestsBeforeHelloAreRejected) {
  auto server = StartServer();
  Raw raw(server->port());
  raw.Send(Frame(1, Op::kSet, [](WireWriter& w) {
    w.Blob(std::string_view("k"));
    w.Blob(std::string_view("v"));
  }));
  std::optional<Bytes> reply = raw.ReadFrame(Deadline::AfterMs(2000));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(CodeOf(*reply), StatusCode::kInvalidArgument);
  EXPECT_TRUE(raw.ReadsEof(Deadline::AfterMs(2000)));
}

TEST(TcpStoreServer, UnknownOpsAndTruncatedFieldsCloseTheConnection) {
  auto server = StartServer();
  const std::vector<Bytes> bad_frames = {
      Frame(7, static_cast<Op>(99), [](WireWriter&) {}),
      Frame(8, Op::kSet,
            [](WireWriter& w) {
              w.U32(100);
              w.U8(0x6b);
            }),  // blob cut short
      Frame(9, Op::kGet,
            [](WireWriter& w) {
              w.U32(0);
              w.Blob(std::string_view("k"));
              w.U8(0);
            }),
      Frame(10, Op::kWait,
            [](WireWriter& w) {
              w.U32(0);
              w.U32(0xffffffff);
            }),                                   // huge count
      Frame(11, Op::kHello, [](WireWriter&) {}),  // a second HELLO
  };
  for (const Bytes& frame : bad_frames) {
    Raw raw = Authenticated(server->port());
    raw.Send(frame);
    std::optional<Bytes> reply = raw.ReadFrame(Deadline::AfterMs(2000));
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(CodeOf(*reply), StatusCode::kInvalidArgument);
    EXPECT_TRUE(raw.ReadsEof(Deadline::AfterMs(2000)));
  }
  ExpectServes(server->port());
}

TEST(TcpStoreServer, HugeLengthPrefixIsRejectedWithoutAllocating) {
  auto server = StartServer();
  for (const bool authenticated : {false, true}) {
    Raw raw = authenticated ? Authenticated(server->port()) : Raw(server->port());
    raw.Send(Bytes{0xff, 0xff, 0xff, 0xff, 1, 2, 3});
    std::optional<Bytes> reply = raw.ReadFrame(Deadline::AfterMs(2000));
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(CodeOf(*reply), StatusCode::kInvalidArgument);
    EXPECT_TRUE(raw.ReadsEof(Deadline::AfterMs(2000)));
  }
  EXPECT_LT(server->peak_buffered_bytes(), size_t{256} << 10);
  ExpectServes(server->port());
}

TEST(TcpStoreServer, OversizedRequestsAreRefused) {
  auto server = StartServer([](TcpStoreServerOptions& o) { o.max_request_bytes = 1024; });
  Result<std::unique_ptr<TcpStore>> client = Client(server->port());
  ASSERT_TRUE(client.ok()) << client.status();
  Status status = (*client)->Set("big", Bytes(2000, 7), Long());
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status;
  EXPECT_NE(status.message().find("'big'"), std::string_view::npos) << status;
  EXPECT_TRUE((*client)->Set("small", Bytes(1000, 7), Long()).ok());  // still usable

  Raw raw = Authenticated(server->port());  // the server enforces it too
  raw.Send(Frame(3, Op::kSet, [](WireWriter& w) {
    w.Blob(std::string_view("big"));
    w.Blob(Bytes(2000, 7));
  }));
  std::optional<Bytes> reply = raw.ReadFrame(Deadline::AfterMs(2000));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(CodeOf(*reply), StatusCode::kInvalidArgument);
  EXPECT_TRUE(raw.ReadsEof(Deadline::AfterMs(2000)));
}

TEST(TcpStoreServer, HalfOpenConnectionsDoNotBlockOthersAndAreDropped) {
  auto server = StartServer(
      [](TcpStoreServerOptions& o) { o.auth_timeout = std::chrono::milliseconds(300); });
  const Clock::time_point start = Clock::now();
  Raw silent(server->port());
  Raw half(server->port());
  half.Send(Bytes{0x10, 0x00});  // half a length prefix, then nothing
  ExpectServes(server->port());
  EXPECT_TRUE(half.ReadsEof(Deadline::AfterMs(2000)));
  EXPECT_TRUE(silent.ReadsEof(Deadline::AfterMs(2000)));
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
  EXPECT_TRUE(Eventually([&] { return server->connection_count() == 0; }));
}

TEST(TcpStoreServer, StoppingTheServerWakesAWaitingClientWithUnavailable) {
  auto server = StartServer();
  Result<std::unique_ptr<TcpStore>> client = Client(server->port());
  ASSERT_TRUE(client.ok()) << client.status();
  Result<Bytes> value = Bytes();
  Clock::time_point returned;
  std::thread waiter([&] {
    value = (*client)->Get("never", Long());
    returned = Clock::now();
  });
  ASSERT_TRUE(Eventually([&] { return server->waiting_count() == 1; }));
  const Clock::time_point stopped = Clock::now();
  server->Stop();
  waiter.join();
  EXPECT_EQ(value.status().code(), StatusCode::kUnavailable) << value.status();
  EXPECT_NE(value.status().message().find("'never'"), std::string_view::npos) << value.status();
  EXPECT_LT(returned - stopped, std::chrono::milliseconds(1000));
  // With the server gone the next call fails at once rather than at its deadline.
  EXPECT_EQ((*client)->Get("never", Long()).status().code(), StatusCode::kUnavailable);
}

TEST(TcpStoreServer, ClientThatLeavesWhileWaitingIsForgotten) {
  auto server = StartServer();
  Raw raw = Authenticated(server->port());
  raw.Send(Frame(5, Op::kGet, [](WireWriter& w) {
    w.U32(store_internal::kNoTimeout);
    w.Blob(std::string_view("never"));
  }));
  ASSERT_TRUE(Eventually([&] { return server->waiting_count() == 1; }));
  raw.Close();
  EXPECT_TRUE(
      Eventually([&] { return server->waiting_count() == 0 && server->connection_count() == 0; }));
}

TEST(TcpStoreServer, PipelinedRequestsAreAnsweredInOrder) {
  auto server = StartServer();
  Raw raw(server->port());
  Bytes frames = HelloFrame(kSecret);
  const auto append = [&](const Bytes& frame) {
    frames.insert(frames.end(), frame.begin(), frame.end());
  };
  append(Frame(1, Op::kGet, [](WireWriter& w) {
    w.U32(5000);
    w.Blob(std::string_view("k"));
  }));
  append(Frame(2, Op::kAdd, [](WireWriter& w) {
    w.I64(3);
    w.Blob(std::string_view("n"));
  }));
  raw.Send(frames);
  ASSERT_TRUE(raw.ReadFrame().has_value());  // hello
  ASSERT_TRUE(Eventually([&] { return server->waiting_count() == 1; }));
  Result<std::unique_ptr<TcpStore>> client = Client(server->port());
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE(SetString(**client, "k", "v", Long()).ok());
  for (const uint32_t expected_id : {1u, 2u}) {
    std::optional<Bytes> reply = raw.ReadFrame();
    ASSERT_TRUE(reply.has_value());
    WireReader r(*reply);
    uint32_t id = 0;
    ASSERT_TRUE(r.U32(&id));
    EXPECT_EQ(id, expected_id);
    EXPECT_EQ(CodeOf(*reply), StatusCode::kOk);
  }
}

TEST(TcpStoreServer, ManyClientsConcurrently) {
  auto server = StartServer();
  constexpr int kClients = 64;
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      Result<std::unique_ptr<TcpStore>> client = Client(server->port());
      ASSERT_TRUE(client.ok()) << client.status();
      TcpStore& store = **client;
      ASSERT_TRUE(SetString(store, "c/" + std::to_string(i), std::to_string(i), Long()).ok());
      const int peer = (i + 7) % kClients;
      EXPECT_EQ(*GetString(store, "c/" + std::to_string(peer), Long()), std::to_string(peer));
      EXPECT_TRUE(store.Add("arrived", 1, Long()).ok());
    });
  }
  for (std::thread& thread : threads) thread.join();
  Result<std::unique_ptr<TcpStore>> client = Client(server->port());
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(*GetString(**client, "arrived", Long()), std::to_string(kClients));
}

TEST(TcpStoreServer, TotalBytesCapRefusesWritesButKeepsTheConnection) {
  auto server = StartServer([](TcpStoreServerOptions& o) { o.max_total_bytes = 10'000; });
  Result<std::unique_ptr<TcpStore>> client = Client(server->port());
  ASSERT_TRUE(client.ok());
  TcpStore& store = **client;
  ASSERT_TRUE(store.Set("a", Bytes(6000, 1), Long()).ok());
  Status full = store.Set("b", Bytes(6000, 2), Long());
  EXPECT_EQ(full.code(), StatusCode::kIoError) << full;
  EXPECT_NE(full.message().find("store full"), std::string_view::npos) << full;
  EXPECT_EQ(store.Get("a", Long())->size(), 6000u);         // the connection is still usable
  EXPECT_TRUE(store.Set("a", Bytes(100, 1), Long()).ok());  // shrinking is always allowed
  EXPECT_TRUE(store.Set("b", Bytes(6000, 2), Long()).ok());
  EXPECT_EQ(server->stored_bytes(), 6102u);
  EXPECT_TRUE(*store.Delete("b", Long()));
  EXPECT_EQ(server->stored_bytes(), 101u);
}

TEST(TcpStoreServer, ConnectionCapRefusesExtraConnections) {
  auto server = StartServer([](TcpStoreServerOptions& o) { o.max_connections = 2; });
  auto first = Client(server->port());
  auto second = Client(server->port());
  ASSERT_TRUE(first.ok() && second.ok());
  Result<std::unique_ptr<TcpStore>> third = Client(server->port(), kSecret, Deadline::AfterMs(300));
  EXPECT_FALSE(third.ok());
  EXPECT_EQ(third.status().code(), StatusCode::kTimedOut) << third.status();
  first->reset();
  ASSERT_TRUE(Eventually([&] { return server->connection_count() == 1; }));
  EXPECT_TRUE(Client(server->port()).ok());
}

TEST(TcpStoreServer, IdleUnauthenticatedConnectionsCannotCrowdOutClients) {
  auto server = StartServer([](TcpStoreServerOptions& o) { o.max_connections = 2; });
  Raw idle1(server->port());
  Raw idle2(server->port());
  ASSERT_TRUE(Eventually([&] { return server->connection_count() == 2; }));
  ExpectServes(server->port());  // evicts the oldest idle connection
  EXPECT_TRUE(idle1.ReadsEof(Deadline::AfterMs(2000)));
}

}  // namespace
}  // namespace tidal
