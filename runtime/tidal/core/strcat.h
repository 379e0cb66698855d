// StrCat: concatenates anything that can be written to an std::ostream. Used to build error and
// log messages; not meant for hot paths.
//
// Thread safety: pure function.
#pragma once

#include <sstream>
#include <string>

namespace tidal {

template <typename... Args>
std::string StrCat(const Args&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return std::string();
  } else {
    std::ostringstream os;
    (os << ... << args);
    return std::move(os).str();
  }
}

}  // namespace tidal
