#include "tidal/store/tcp_store_wire.h"

#include "tidal/core/check.h"

namespace tidal::store_internal {

std::string OpName(uint8_t op) {
  switch (static_cast<Op>(op)) {
    case Op::kHello:
      return "hello";
    case Op::kSet:
      return "set";
    case Op::kGet:
      return "get";
    case Op::kAdd:
      return "add";
    case Op::kWait:
      return "wait";
    case Op::kCheck:
      return "check";
    case Op::kDelete:
      return "delete";
  }
  return StrCat("op ", static_cast<int>(op));
}

void WireWriter::Start() {
  TIDAL_CHECK(start_ == SIZE_MAX);
  start_ = out_->size();
  U32(0);
}

void WireWriter::Finish() {
  TIDAL_CHECK(start_ != SIZE_MAX);
  const size_t length = out_->size() - start_ - kLengthBytes;
  TIDAL_CHECK_LE(length, size_t{UINT32_MAX});
  for (size_t i = 0; i < kLengthBytes; ++i) {
    (*out_)[start_ + i] = static_cast<uint8_t>(length >> (8 * i));
  }
  start_ = SIZE_MAX;
}

void WireWriter::Blob(std::span<const uint8_t> data) {
  TIDAL_CHECK_LE(data.size(), size_t{UINT32_MAX});
  U32(static_cast<uint32_t>(data.size()));
  out_->insert(out_->end(), data.begin(), data.end());
}

void WireWriter::Blob(std::string_view data) {
  Blob(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

void WireWriter::Little(uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out_->push_back(static_cast<uint8_t>(v >> (8 * i)));
}

bool WireReader::Little(uint64_t* v, size_t bytes) {
  if (remaining() < bytes) return false;
  uint64_t value = 0;
  for (size_t i = 0; i < bytes; ++i) value |= uint64_t{data_[offset_ + i]} << (8 * i);
  offset_ += bytes;
  *v = value;
  return true;
}

bool WireReader::U8(uint8_t* v) {
  uint64_t x = 0;
  if (!Little(&x, 1)) return false;
  *v = static_cast<uint8_t>(x);
  return true;
}

bool WireReader::U16(uint16_t* v) {
  uint64_t x = 0;
  if (!Little(&x, 2)) return false;
  *v = static_cast<uint16_t>(x);
  return true;
}

bool WireReader::U32(uint32_t* v) {
  uint64_t x = 0;
  if (!Little(&x, 4)) return false;
  *v = static_cast<uint32_t>(x);
  return true;
}

bool WireReader::U64(uint64_t* v) { return Little(v, 8); }

bool WireReader::I64(int64_t* v) {
  uint64_t x = 0;
  if (!Little(&x, 8)) return false;
  *v = static_cast<int64_t>(x);
  return true;
}

bool WireReader::Blob(std::span<const uint8_t>* v) {
  const size_t saved = offset_;
  uint32_t length = 0;
  if (!U32(&length)) return false;
  if (remaining() < length) {
    offset_ = saved;
    return false;
  }
  *v = data_.subspan(offset_, length);
  offset_ += length;
  return true;
}

bool WireReader::Text(std::string_view* v) {
  std::span<const uint8_t> blob;
  if (!Blob(&blob)) return false;
  *v = std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size());
  return true;
}

uint32_t LoadLength(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

}  // namespace tidal::store_internal
