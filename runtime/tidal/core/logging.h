// Logging with levels and subsystems, configured from the environment:
//   TIDAL_DEBUG=NONE|ERROR|WARN|INFO|DEBUG|TRACE      (default WARN)
//   TIDAL_DEBUG_SUBSYS=INIT,STORE,...|ALL|^TRANSPORT  (default ALL; '^' excludes the list)
//   TIDAL_DEBUG_FILE=/tmp/tidal.%h.%p.log              (%h host, %p pid; default stderr)
// Every line carries the rank ("r3", or "r?" before the rank is known), level and subsystem:
//   tidal[r3 pid 1234] INFO STORE tcp_store.cc:88 connected to 127.0.0.1:29400
//
//   TIDAL_LOG(INFO, kStore) << "connected to " << addr;
//
// A disabled statement costs one relaxed atomic load and evaluates none of its operands.
//
// Thread safety: all functions are thread-safe. The log rank is per thread (ranks running as
// threads or fibers in one process each set their own); SetProcessLogRank sets the fallback.
#pragma once

#include <atomic>
#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>

namespace tidal {

enum class LogLevel : uint8_t { kNone = 0, kError, kWarn, kInfo, kDebug, kTrace };

// Subsystems are bits so that a filter is one mask test.
enum class LogSubsys : uint32_t {
  kInit = 1u << 0,
  kStore = 1u << 1,
  kTransport = 1u << 2,
  kProgress = 1u << 3,
  kTopo = 1u << 4,
  kComm = 1u << 5,
  kColl = 1u << 6,
  kGossip = 1u << 7,
  kOptim = 1u << 8,
  kTools = 1u << 9,
  kTest = 1u << 10,
};
inline constexpr uint32_t kAllSubsys = (1u << 11) - 1;

std::string_view LogLevelName(LogLevel level);
std::string_view LogSubsysName(LogSubsys subsys);

namespace internal {
// Spellings used by TIDAL_LOG(ERROR, ...), TIDAL_LOG(WARN, ...), ...
inline constexpr LogLevel kLevelERROR = LogLevel::kError;
inline constexpr LogLevel kLevelWARN = LogLevel::kWarn;
inline constexpr LogLevel kLevelINFO = LogLevel::kInfo;
inline constexpr LogLevel kLevelDEBUG = LogLevel::kDebug;
inline constexpr LogLevel kLevelTRACE = LogLevel::kTrace;

extern std::atomic<uint8_t> g_log_level;
extern std::atomic<uint32_t> g_log_subsys;
extern std::atomic<bool> g_log_configured;
void ConfigureLoggingFromEnv();

class LogLine {
 public:
  LogLine(LogLevel level, LogSubsys subsys, const char* file, int line);
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  ~LogLine();
  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};
}  // namespace internal

inline bool LogEnabled(LogLevel level, LogSubsys subsys) {
  if (!internal::g_log_configured.load(std::memory_order_acquire)) {
    internal::ConfigureLoggingFromEnv();
  }
  return static_cast<uint8_t>(level) <= internal::g_log_level.load(std::memory_order_relaxed) &&
         (static_cast<uint32_t>(subsys) & internal::g_log_subsys.load(std::memory_order_relaxed));
}

// Parses level and subsystem strings; used by the environment reader and by tests.
bool ParseLogLevel(std::string_view text, LogLevel* level);
bool ParseLogSubsys(std::string_view text, uint32_t* mask);

// Overrides the environment (tests, tools). Takes effect for every thread.
void SetLogLevel(LogLevel level);
void SetLogSubsystems(uint32_t mask);

// The rank printed on this thread's log lines; -1 means unknown.
void SetThreadLogRank(int rank);
void SetProcessLogRank(int rank);
int LogRank();
// "r3" or "r?".
std::string LogRankTag();

// Sets the thread's log rank for a scope and restores the previous one.
class ScopedLogRank {
 public:
  explicit ScopedLogRank(int rank);
  ~ScopedLogRank();
  ScopedLogRank(const ScopedLogRank&) = delete;
  ScopedLogRank& operator=(const ScopedLogRank&) = delete;

 private:
  int previous_;
};

}  // namespace tidal

#define TIDAL_LOG(level, subsys)                                                             \
  if (!::tidal::LogEnabled(::tidal::internal::kLevel##level, ::tidal::LogSubsys::subsys)) {  \
  } else                                                                                     \
    ::tidal::internal::LogLine(::tidal::internal::kLevel##level, ::tidal::LogSubsys::subsys, \
                               __FILE__, __LINE__)                                           \
        .stream()
