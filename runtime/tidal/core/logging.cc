#include "tidal/core/logging.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "tidal/core/knobs.h"

namespace tidal {
namespace {

constexpr std::string_view kLevelNames[] = {"NONE", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"};
constexpr std::string_view kSubsysNames[] = {"INIT",  "STORE", "TRANSPORT", "PROGRESS",
                                             "TOPO",  "COMM",  "COLL",      "GOSSIP",
                                             "OPTIM", "TOOLS", "TEST"};
static_assert(std::size(kSubsysNames) == 11, "one name per LogSubsys bit");

thread_local int t_log_rank = -1;
std::atomic<int> g_process_rank{-1};
std::atomic<int> g_log_fd{STDERR_FILENO};
std::once_flag g_env_once;

std::string Upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view BaseName(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash ? slash + 1 : path;
}

// Expands %h (host) and %p (pid) in TIDAL_DEBUG_FILE.
std::string ExpandLogPath(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '%' && i + 1 < pattern.size()) {
      char host[256] = {};
      switch (pattern[++i]) {
        case 'h':
          gethostname(host, sizeof(host) - 1);
          out += host;
          continue;
        case 'p':
          out += std::to_string(getpid());
          continue;
        default:
          out += '%';
      }
    }
    out += pattern[i];
  }
  return out;
}

void ReadEnv() {
  LogLevel level = LogLevel::kWarn;
  std::string level_text = KnobString(Knob::kDebug);
  if (!ParseLogLevel(level_text, &level)) {
    std::fprintf(stderr, "tidal: TIDAL_DEBUG=%s is not a level; using WARN\n", level_text.c_str());
  }
  uint32_t mask = kAllSubsys;
  std::string subsys_text = KnobString(Knob::kDebugSubsys);
  if (!ParseLogSubsys(subsys_text, &mask)) {
    std::fprintf(stderr, "tidal: TIDAL_DEBUG_SUBSYS=%s has an unknown subsystem; using ALL\n",
                 subsys_text.c_str());
    mask = kAllSubsys;
  }
  std::string file = KnobString(Knob::kDebugFile);
  if (!file.empty()) {
    const std::string path = ExpandLogPath(file);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd >= 0) g_log_fd.store(fd);
  }
  internal::g_log_level.store(static_cast<uint8_t>(level));
  internal::g_log_subsys.store(mask);
}

}  // namespace

namespace internal {
std::atomic<uint8_t> g_log_level{static_cast<uint8_t>(LogLevel::kWarn)};
std::atomic<uint32_t> g_log_subsys{kAllSubsys};
std::atomic<bool> g_log_configured{false};

void ConfigureLoggingFromEnv() {
  std::call_once(g_env_once, [] {
    ReadEnv();
    g_log_configured.store(true, std::memory_order_release);
  });
}

LogLine::LogLine(LogLevel level, LogSubsys subsys, const char* file, int line) {
  stream_ << "tidal[" << LogRankTag() << " pid " << getpid() << "] " << LogLevelName(level) << " "
          << LogSubsysName(subsys) << " " << BaseName(file) << ":" << line << " ";
}

LogLine::~LogLine() {
  stream_ << '\n';
  const std::string text = std::move(stream_).str();
  ssize_t ignored = ::write(g_log_fd.load(std::memory_order_relaxed), text.data(), text.size());
  (void)ignored;
}
}  // namespace internal

std::string_view LogLevelName(LogLevel level) {
  const auto index = static_cast<size_t>(level);
  return index < std::size(kLevelNames) ? kLevelNames[index] : "?";
}

std::string_view LogSubsysName(LogSubsys subsys) {
  const uint32_t bits = static_cast<uint32_t>(subsys);
  for (size_t i = 0; i < std::size(kSubsysNames); ++i) {
    if (bits == (1u << i)) return kSubsysNames[i];
  }
  return "?";
}

bool ParseLogLevel(std::string_view text, LogLevel* level) {
  const std::string upper = Upper(text);
  if (upper.empty()) return true;
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (upper == kLevelNames[i]) {
      *level = static_cast<LogLevel>(i);
      return true;
    }
  }
  if (upper == "WARNING") {
    *level = LogLevel::kWarn;
    return true;
  }
  return false;
}

bool ParseLogSubsys(std::string_view text, uint32_t* mask) {
  std::string upper = Upper(text);
  if (upper.empty()) return true;
  const bool exclude = upper[0] == '^';
  if (exclude) upper.erase(0, 1);
  uint32_t bits = 0;
  size_t start = 0;
  while (start <= upper.size()) {
    size_t comma = upper.find(',', start);
    if (comma == std::string::npos) comma = upper.size();
    const std::string_view name = std::string_view(upper).substr(start, comma - start);
    bool found = name == "ALL";
    if (found) bits = kAllSubsys;
    for (size_t i = 0; i < std::size(kSubsysNames) && !found; ++i) {
      if (name == kSubsysNames[i]) {
        bits |= 1u << i;
        found = true;
      }
    }
    if (!found) return false;
    start = comma + 1;
  }
  *mask = exclude ? (kAllSubsys & ~bits) : bits;
  return true;
}

void SetLogLevel(LogLevel level) {
  internal::ConfigureLoggingFromEnv();
  internal::g_log_level.store(static_cast<uint8_t>(level));
}

void SetLogSubsystems(uint32_t mask) {
  internal::ConfigureLoggingFromEnv();
  internal::g_log_subsys.store(mask);
}

void SetThreadLogRank(int rank) { t_log_rank = rank; }
void SetProcessLogRank(int rank) { g_process_rank.store(rank); }
int LogRank() { return t_log_rank >= 0 ? t_log_rank : g_process_rank.load(); }

std::string LogRankTag() {
  const int rank = LogRank();
  // Appended rather than "r" + to_string(): GCC 12 at -O3 warns (-Wrestrict) on the latter.
  std::string tag = "r";
  tag += rank >= 0 ? std::to_string(rank) : std::string("?");
  return tag;
}

ScopedLogRank::ScopedLogRank(int rank) : previous_(t_log_rank) { t_log_rank = rank; }
ScopedLogRank::~ScopedLogRank() { t_log_rank = previous_; }

}  // namespace tidal
