#include "tidal/core/knobs.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

namespace tidal {
namespace {

constexpr KnobInfo kKnobs[] = {
#define TIDAL_KNOB_INFO_(id, name, def, meaning) {Knob::id, name, def, meaning},
    TIDAL_KNOB_TABLE(TIDAL_KNOB_INFO_)
#undef TIDAL_KNOB_INFO_
};

}  // namespace

bool AnyEnvWithPrefix(std::string_view prefix) {
  if (prefix.empty()) return true;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    // Most names fail on the first byte: no call for them.
    if ((*e)[0] == prefix[0] && std::strncmp(*e, prefix.data(), prefix.size()) == 0) return true;
  }
  return false;
}

namespace {

const char* Env(Knob knob) {
  // The names in kKnobs are literals, hence NUL-terminated.
  return std::getenv(GetKnobInfo(knob).name.data());  // NOLINT(concurrency-mt-unsafe)
}

std::string Lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

}  // namespace

std::span<const KnobInfo> AllKnobs() { return kKnobs; }

const KnobInfo& GetKnobInfo(Knob knob) { return kKnobs[static_cast<size_t>(knob)]; }

const KnobInfo* FindKnob(std::string_view name) {
  for (const KnobInfo& info : kKnobs) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

bool KnobIsSet(Knob knob) { return Env(knob) != nullptr; }

std::string KnobString(Knob knob) {
  const char* value = Env(knob);
  return value ? std::string(value) : std::string(GetKnobInfo(knob).default_value);
}

Result<int64_t> KnobInt(Knob knob, int64_t fallback) {
  const std::string text = KnobString(knob);
  if (text.empty()) return fallback;
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str() || *end != '\0') {
    return InvalidArgumentError(GetKnobInfo(knob).name, "=", text, " is not an integer");
  }
  return static_cast<int64_t>(value);
}

Result<bool> KnobBool(Knob knob, bool fallback) {
  const std::string text = Lower(KnobString(knob));
  if (text.empty()) return fallback;
  if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
  if (text == "0" || text == "false" || text == "no" || text == "off") return false;
  return InvalidArgumentError(GetKnobInfo(knob).name, "=", text, " is not a boolean");
}

}  // namespace tidal
