// The TCP store server's request handling: HELLO and authentication, the key space, and GET and
// WAIT requests parked until their key is set (see tcp_store_server.h and tcp_store_wire.h).
#include "tidal/core/logging.h"
#include "tidal/store/store_util.h"
#include "tidal/store/tcp_store_server_loop.h"

namespace tidal::store_internal {
namespace {

std::string Malformed(Op op) {
  return StrCat("malformed ", OpName(static_cast<uint8_t>(op)), " request");
}

// Reads `count` keys; false when the payload is short. Does not trust `count` for allocation.
bool ReadKeys(WireReader& r, uint32_t count, std::vector<std::string>* keys) {
  if (count > r.remaining() / 4) return false;
  keys->reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    std::string_view key;
    if (!r.Text(&key)) return false;
    keys->emplace_back(key);
  }
  return true;
}

Status ValidateKeys(std::string_view op, const std::vector<std::string>& keys) {
  for (const std::string& key : keys) TIDAL_RETURN_IF_ERROR(ValidateKey(op, key));
  return Status::Ok();
}

}  // namespace

template <typename BodyFn>
void ServerLoop::Reply(Connection& c, uint32_t id, BodyFn body) {
  WireWriter w(&c.out);
  w.Start();
  w.U32(id);
  w.U8(static_cast<uint8_t>(StatusCode::kOk));
  body(w);
  w.Finish();
  Account(c);
}

void ServerLoop::ReplyError(Connection& c, uint32_t id, const Status& status) {
  WireWriter w(&c.out);
  w.Start();
  w.U32(id);
  w.U8(static_cast<uint8_t>(status.code()));
  w.Blob(status.message());
  w.Finish();
  Account(c);
}

void ServerLoop::HandleFrame(Connection& c, std::span<const uint8_t> payload) {
  WireReader r(payload);
  uint32_t id = 0;
  uint8_t op = 0;
  r.U32(&id);  // the caller checked that the payload holds at least these five bytes
  r.U8(&op);
  if (!c.authenticated || op == static_cast<uint8_t>(Op::kHello)) {
    if (op != static_cast<uint8_t>(Op::kHello) || c.authenticated) {
      Fail(c, id, StatusCode::kInvalidArgument, StrCat("unexpected ", OpName(op), " request"));
      return;
    }
    HandleHello(c, id, r);
    return;
  }
  switch (static_cast<Op>(op)) {
    case Op::kSet:
      return HandleSet(c, id, r);
    case Op::kGet:
      return HandleGet(c, id, r);
    case Op::kAdd:
      return HandleAdd(c, id, r);
    case Op::kWait:
      return HandleWait(c, id, r);
    case Op::kCheck:
      return HandleCheck(c, id, r);
    case Op::kDelete:
      return HandleDelete(c, id, r);
    case Op::kHello:
      break;
  }
  Fail(c, id, StatusCode::kInvalidArgument, StrCat("unknown ", OpName(op)));
}

void ServerLoop::HandleHello(Connection& c, uint32_t id, WireReader& r) {
  uint32_t magic = 0;
  uint16_t version = 0;
  std::string_view secret;
  if (!r.U32(&magic) || !r.U16(&version) || !r.Text(&secret) || !r.AtEnd() ||
      magic != kHelloMagic) {
    Fail(c, id, StatusCode::kInvalidArgument, "malformed hello");
    return;
  }
  if (version != kProtocolVersion) {
    Fail(c, id, StatusCode::kNotSupported,
         StrCat("protocol version ", version, " is not supported; the server speaks version ",
                kProtocolVersion));
    return;
  }
  if (!ConstantTimeEquals(secret, options_.secret)) {
    Fail(c, id, StatusCode::kInvalidArgument, "unauthenticated: wrong secret");
    return;
  }
  c.authenticated = true;
  Reply(c, id, [&](WireWriter& w) {
    w.U16(kProtocolVersion);
    w.U64(options_.max_request_bytes);
  });
}

void ServerLoop::HandleSet(Connection& c, uint32_t id, WireReader& r) {
  std::string_view key;
  std::span<const uint8_t> value;
  if (!r.Text(&key) || !r.Blob(&value) || !r.AtEnd()) {
    Fail(c, id, StatusCode::kInvalidArgument, Malformed(Op::kSet));
    return;
  }
  Status status = ValidateKey("set", key);
  if (status.ok()) status = Store(key, Bytes(value.begin(), value.end()));
  if (!status.ok()) return ReplyError(c, id, status);
  Reply(c, id, [](WireWriter&) {});
  Notify(std::string(key));
}

void ServerLoop::HandleGet(Connection& c, uint32_t id, WireReader& r) {
  uint32_t timeout_ms = 0;
  std::string_view key;
  if (!r.U32(&timeout_ms) || !r.Text(&key) || !r.AtEnd()) {
    Fail(c, id, StatusCode::kInvalidArgument, Malformed(Op::kGet));
    return;
  }
  if (Status status = ValidateKey("get", key); !status.ok()) return ReplyError(c, id, status);
  const auto it = data_.find(key);
  if (it != data_.end()) {
    return Reply(c, id, [&](WireWriter& w) { w.Blob(it->second); });
  }
  Parked parked;
  parked.request_id = id;
  parked.op = Op::kGet;
  parked.keys.emplace_back(key);
  Park(c, std::move(parked), std::string(key), timeout_ms);
}

void ServerLoop::HandleAdd(Connection& c, uint32_t id, WireReader& r) {
  int64_t delta = 0;
  std::string_view key;
  if (!r.I64(&delta) || !r.Text(&key) || !r.AtEnd()) {
    Fail(c, id, StatusCode::kInvalidArgument, Malformed(Op::kAdd));
    return;
  }
  if (Status status = ValidateKey("add", key); !status.ok()) return ReplyError(c, id, status);
  const auto it = data_.find(key);
  std::optional<Bytes> current;
  if (it != data_.end()) current = it->second;
  Result<int64_t> sum = AddToCounter(key, current, delta);
  Status status = sum.ok() ? Store(key, FormatCounter(*sum)) : sum.status();
  if (!status.ok()) return ReplyError(c, id, status);
  Reply(c, id, [&](WireWriter& w) { w.I64(*sum); });
  Notify(std::string(key));
}

void ServerLoop::HandleWait(Connection& c, uint32_t id, WireReader& r) {
  uint32_t timeout_ms = 0;
  uint32_t count = 0;
  Parked parked;
  if (!r.U32(&timeout_ms) || !r.U32(&count) || !ReadKeys(r, count, &parked.keys) || !r.AtEnd()) {
    Fail(c, id, StatusCode::kInvalidArgument, Malformed(Op::kWait));
    return;
  }
  if (Status status = ValidateKeys("wait", parked.keys); !status.ok()) {
    return ReplyError(c, id, status);
  }
  const std::string* missing = FirstMissing(parked.keys);
  if (missing == nullptr) return Reply(c, id, [](WireWriter&) {});
  parked.request_id = id;
  parked.op = Op::kWait;
  const std::string missing_key = *missing;
  Park(c, std::move(parked), missing_key, timeout_ms);
}

void ServerLoop::HandleCheck(Connection& c, uint32_t id, WireReader& r) {
  uint32_t count = 0;
  std::vector<std::string> keys;
  if (!r.U32(&count) || !ReadKeys(r, count, &keys) || !r.AtEnd()) {
    Fail(c, id, StatusCode::kInvalidArgument, Malformed(Op::kCheck));
    return;
  }
  if (Status status = ValidateKeys("check", keys); !status.ok()) return ReplyError(c, id, status);
  const bool all_set = FirstMissing(keys) == nullptr;
  Reply(c, id, [&](WireWriter& w) { w.U8(all_set ? 1 : 0); });
}

void ServerLoop::HandleDelete(Connection& c, uint32_t id, WireReader& r) {
  std::string_view key;
  if (!r.Text(&key) || !r.AtEnd()) {
    Fail(c, id, StatusCode::kInvalidArgument, Malformed(Op::kDelete));
    return;
  }
  if (Status status = ValidateKey("delete", key); !status.ok()) return ReplyError(c, id, status);
  const auto it = data_.find(key);
  const bool existed = it != data_.end();
  if (existed) {
    stored_ -= it->first.size() + it->second.size();
    data_.erase(it);
    stats_.stored_bytes.store(stored_, std::memory_order_relaxed);
  }
  Reply(c, id, [&](WireWriter& w) { w.U8(existed ? 1 : 0); });
}

Status ServerLoop::Store(std::string_view key, Bytes value) {
  const auto it = data_.find(key);
  const size_t old_bytes = it == data_.end() ? 0 : key.size() + it->second.size();
  const size_t new_total = stored_ - old_bytes + key.size() + value.size();
  if (new_total > stored_ && new_total > options_.max_total_bytes) {
    return IoError("store full: holding ", stored_, " bytes, the limit is ",
                   options_.max_total_bytes, " (TIDAL_STORE_MAX_BYTES)");
  }
  if (it == data_.end()) {
    data_.emplace(std::string(key), std::move(value));
  } else {
    it->second = std::move(value);
  }
  stored_ = new_total;
  stats_.stored_bytes.store(stored_, std::memory_order_relaxed);
  return Status::Ok();
}

const std::string* ServerLoop::FirstMissing(const std::vector<std::string>& keys) const {
  for (const std::string& key : keys) {
    if (data_.find(key) == data_.end()) return &key;
  }
  return nullptr;
}

void ServerLoop::Park(Connection& c, Parked parked, const std::string& missing,
                      uint32_t timeout_ms) {
  parked.start = Clock::now();
  parked.deadline = timeout_ms == kNoTimeout ? Clock::time_point::max()
                                             : parked.start + std::chrono::milliseconds(timeout_ms);
  parked.registered_key = missing;
  waiters_[missing].push_back(c.id);
  c.parked = std::move(parked);
  stats_.waiting.fetch_add(1, std::memory_order_relaxed);
  if (timeout_ms == 0) ReplyTimedOut(c);
}

void ServerLoop::Unpark(Connection& c) {
  if (!c.parked.has_value()) return;
  const auto it = waiters_.find(c.parked->registered_key);
  if (it != waiters_.end()) {
    std::erase(it->second, c.id);
    if (it->second.empty()) waiters_.erase(it);
  }
  c.parked.reset();
  stats_.waiting.fetch_sub(1, std::memory_order_relaxed);
}

void ServerLoop::Notify(const std::string& key) {
  const auto it = waiters_.find(key);
  if (it == waiters_.end()) return;
  const std::vector<uint64_t> ids = std::move(it->second);
  waiters_.erase(it);
  for (const uint64_t id : ids) {
    Connection* c = Find(id);
    if (c == nullptr || !c->parked.has_value() || c->parked->registered_key != key) continue;
    Parked& p = *c->parked;
    const std::string* missing = FirstMissing(p.keys);
    if (missing != nullptr) {  // a WAIT with more keys to go
      p.registered_key = *missing;
      waiters_[*missing].push_back(id);
      continue;
    }
    if (p.op == Op::kGet) {
      const Bytes& value = data_.find(p.keys.front())->second;
      Reply(*c, p.request_id, [&](WireWriter& w) { w.Blob(value); });
    } else {
      Reply(*c, p.request_id, [](WireWriter&) {});
    }
    Unpark(*c);
    ready_.push_back(id);
  }
}

void ServerLoop::ReplyTimedOut(Connection& c) {
  const Parked& p = *c.parked;
  const std::string missing = p.registered_key;
  const uint32_t id = p.request_id;
  const int64_t waited_ms = ElapsedMs(p.start);
  Unpark(c);
  ReplyError(c, id,
             TimedOutError("timed out after ", waited_ms, " ms waiting for ", QuoteKey(missing)));
}

}  // namespace tidal::store_internal
