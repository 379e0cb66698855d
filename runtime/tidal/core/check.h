// Always-on invariant checks. A failed check is a bug in tidal, never a user error: it prints
// file:line, the condition and both operands, then aborts. User and wire errors are Statuses.
//
//   TIDAL_CHECK(ptr != nullptr) << "while posting rank " << rank;
//   TIDAL_CHECK_EQ(a, b);      // prints "a == b (3 vs. 4)"
//   TIDAL_DCHECK_LT(i, n);     // debug builds only: for hot loops
//
// Thread safety: checks may fail on any thread; the report is written with one write() call.
#pragma once

#include <concepts>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>

#include "tidal/core/status.h"

namespace tidal::internal {

// Collects the message of a failed check; its destructor prints it and aborts.
class FatalMessage {
 public:
  FatalMessage(const char* file, int line, const std::string& what);
  FatalMessage(const FatalMessage&) = delete;
  FatalMessage& operator=(const FatalMessage&) = delete;
  [[noreturn]] ~FatalMessage();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Makes `stream << x` a void expression so it fits the ternary-free macro below.
struct Voidify {
  void operator&(std::ostream&) {}
};

template <typename T>
void PrintOperand(std::ostream& os, const T& value) {
  if constexpr (requires { os << value; }) {
    if constexpr (std::same_as<T, signed char> || std::same_as<T, unsigned char> ||
                  std::same_as<T, char>) {
      os << static_cast<int>(value);
    } else {
      os << value;
    }
  } else {
    os << "<unprintable>";
  }
}

template <typename A, typename B>
std::string FormatCheckOp(const char* expr, const A& a, const B& b) {
  std::ostringstream os;
  os << expr << " (";
  PrintOperand(os, a);
  os << " vs. ";
  PrintOperand(os, b);
  os << ")";
  return std::move(os).str();
}

}  // namespace tidal::internal

#define TIDAL_CHECK(cond)              \
  (cond)                               \
      ? (void)0                        \
      : ::tidal::internal::Voidify() & \
            ::tidal::internal::FatalMessage(__FILE__, __LINE__, "Check failed: " #cond).stream()

// The operands are evaluated once; the comparison is written in the caller's code so that the
// caller's warnings (sign-compare, ...) apply.
#define TIDAL_CHECK_OP_(op, a, b)                                                             \
  if (std::optional<std::string> tidal_check_msg_ =                                           \
          [&](const auto& tidal_a_, const auto& tidal_b_) -> std::optional<std::string> {     \
        if (tidal_a_ op tidal_b_) return std::nullopt;                                        \
        return ::tidal::internal::FormatCheckOp(#a " " #op " " #b, tidal_a_, tidal_b_);       \
      }((a), (b));                                                                            \
      !tidal_check_msg_) {                                                                    \
  } else                                                                                      \
    ::tidal::internal::FatalMessage(__FILE__, __LINE__, "Check failed: " + *tidal_check_msg_) \
        .stream()

#define TIDAL_CHECK_EQ(a, b) TIDAL_CHECK_OP_(==, a, b)
#define TIDAL_CHECK_NE(a, b) TIDAL_CHECK_OP_(!=, a, b)
#define TIDAL_CHECK_LT(a, b) TIDAL_CHECK_OP_(<, a, b)
#define TIDAL_CHECK_LE(a, b) TIDAL_CHECK_OP_(<=, a, b)
#define TIDAL_CHECK_GT(a, b) TIDAL_CHECK_OP_(>, a, b)
#define TIDAL_CHECK_GE(a, b) TIDAL_CHECK_OP_(>=, a, b)

// Checks that hold when `status_expr` (a Status or Result) is OK; prints the status otherwise.
#define TIDAL_CHECK_OK(status_expr)                                                         \
  if (const auto& tidal_st_ = (status_expr); tidal_st_.ok()) {                              \
  } else                                                                                    \
    ::tidal::internal::FatalMessage(__FILE__, __LINE__,                                     \
                                    "Check failed: " #status_expr " is OK: " +              \
                                        ::tidal::internal::GetStatus(tidal_st_).ToString()) \
        .stream()

#ifdef NDEBUG
#define TIDAL_DCHECK(cond) \
  while (false) TIDAL_CHECK(cond)
#define TIDAL_DCHECK_EQ(a, b) \
  while (false) TIDAL_CHECK_EQ(a, b)
#define TIDAL_DCHECK_LT(a, b) \
  while (false) TIDAL_CHECK_LT(a, b)
#define TIDAL_DCHECK_LE(a, b) \
  while (false) TIDAL_CHECK_LE(a, b)
#else
#define TIDAL_DCHECK(cond) TIDAL_CHECK(cond)
#define TIDAL_DCHECK_EQ(a, b) TIDAL_CHECK_EQ(a, b)
#define TIDAL_DCHECK_LT(a, b) TIDAL_CHECK_LT(a, b)
#define TIDAL_DCHECK_LE(a, b) TIDAL_CHECK_LE(a, b)
#endif
