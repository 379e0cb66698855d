// The TCP store's wire format, shared by TcpStore (client) and TcpStoreServer. Internal to
// runtime/tidal/store.
//
// Every message in either direction is one frame: a little-endian u32 length, then that many
// payload bytes. The length alone decides whether a frame is acceptable (see kMaxHelloPayload and
// kFrameOverhead), so a receiver rejects a huge length prefix before it allocates anything.
//
//   frame       0               4
//               +---------------+---------------------------------------------+
//               | length (u32)  | payload (length bytes)                      |
//               +---------------+---------------------------------------------+
//   request     +---------------+--------+------------------------------------+
//   payload     | request id u32| op u8  | fields of the op                   |
//               +---------------+--------+------------------------------------+
//   reply       +---------------+--------+------------------------------------+
//   payload     | request id u32| code u8| code == 0: the op's reply fields   |
//               |               |        | code != 0: bytes message           |
//               +---------------+--------+------------------------------------+
//
// Field types: u8, u16, u32, u64, i64 (two's complement), all little-endian; "bytes" is a u32
// length followed by that many bytes. A payload must be consumed exactly: trailing bytes are a
// protocol error. `code` is a tidal::StatusCode.
//
//   op          request fields                               reply fields (code 0)
//   HELLO  1    u32 magic "TDST", u16 version, bytes secret  u16 version, u64 max request bytes
//   SET    2    bytes key, bytes value                       -
//   GET    3    u32 timeout ms, bytes key                    bytes value
//   ADD    4    i64 delta, bytes key                         i64 new value
//   WAIT   5    u32 timeout ms, u32 count, count x bytes key -
//   CHECK  6    u32 count, count x bytes key                 u8 all set (0 or 1)
//   DELETE 7    bytes key                                    u8 existed (0 or 1)
//
// HELLO must be the first frame of a connection; the server closes it after an error reply to a
// failed HELLO. A timeout of kNoTimeout (0xffffffff) waits forever; the server answers a GET or
// WAIT that is still unsatisfied after its timeout with code kTimedOut.
//
// Thread safety: pure functions and values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "tidal/store/store.h"

namespace tidal::store_internal {

inline constexpr uint32_t kHelloMagic = 0x54534454;  // "TDST" as little-endian bytes
inline constexpr uint16_t kProtocolVersion = 1;
inline constexpr uint32_t kNoTimeout = 0xffffffff;

inline constexpr size_t kLengthBytes = 4;
// request id + op (or code)
inline constexpr size_t kPayloadHeaderBytes = 4 + 1;
// Largest payload accepted before authentication: HELLO and a secret of up to 1000 bytes.
inline constexpr size_t kMaxHelloPayload = 1024;
inline constexpr size_t kMaxSecretBytes = 1000;
// Framing bytes a request may carry on top of max_request_bytes of keys and values.
inline constexpr size_t kFrameOverhead = 64;

static_assert(kPayloadHeaderBytes + 4 + 2 + 4 + kMaxSecretBytes <= kMaxHelloPayload,
              "a HELLO with the longest secret must fit the pre-authentication limit");
static_assert(sizeof(kHelloMagic) == 4 && sizeof(kProtocolVersion) == 2);

enum class Op : uint8_t {
  kHello = 1,
  kSet = 2,
  kGet = 3,
  kAdd = 4,
  kWait = 5,
  kCheck = 6,
  kDelete = 7,
};
inline constexpr uint8_t kMaxOp = 7;
static_assert(static_cast<uint8_t>(Op::kDelete) == kMaxOp);

// "hello", "set", ... ; "op 42" for an unknown value.
std::string OpName(uint8_t op);

// Appends fields to a byte buffer. Start() reserves a frame's length, Finish() fills it in.
class WireWriter {
 public:
  explicit WireWriter(Bytes* out) : out_(out) {}
  // Begins a frame; REQUIRES: no frame is open.
  void Start();
  // Ends the frame begun by Start(), writing its length.
  void Finish();
  void U8(uint8_t v) { out_->push_back(v); }
  void U16(uint16_t v) { Little(v, 2); }
  void U32(uint32_t v) { Little(v, 4); }
  void U64(uint64_t v) { Little(v, 8); }
  void I64(int64_t v) { Little(static_cast<uint64_t>(v), 8); }
  // REQUIRES: data.size() < 2^32.
  void Blob(std::span<const uint8_t> data);
  void Blob(std::string_view data);

 private:
  void Little(uint64_t v, int bytes);
  Bytes* out_;
  size_t start_ = SIZE_MAX;
};

// Reads fields from a payload. Every read returns false (and reads nothing) when the payload is
// too short; views returned by Blob point into the payload.
class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> payload) : data_(payload) {}
  bool U8(uint8_t* v);
  bool U16(uint16_t* v);
  bool U32(uint32_t* v);
  bool U64(uint64_t* v);
  bool I64(int64_t* v);
  bool Blob(std::span<const uint8_t>* v);
  bool Text(std::string_view* v);
  size_t remaining() const { return data_.size() - offset_; }
  bool AtEnd() const { return offset_ == data_.size(); }

 private:
  bool Little(uint64_t* v, size_t bytes);
  std::span<const uint8_t> data_;
  size_t offset_ = 0;
};

// Reads the little-endian u32 at `p`.
uint32_t LoadLength(const uint8_t* p);

}  // namespace tidal::store_internal
