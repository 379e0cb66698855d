// The knob table is the one place a TIDAL_* variable is declared: every name used anywhere in the
// sources must be in it, and every entry must be documented.
#include "tidal/core/knobs.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

namespace tidal {
namespace {

TEST(Knobs, TableEntriesAreUniqueAndDocumented) {
  std::set<std::string_view> names;
  for (const KnobInfo& info : AllKnobs()) {
    EXPECT_TRUE(names.insert(info.name).second) << "duplicate knob " << info.name;
    EXPECT_TRUE(info.name.starts_with("TIDAL_")) << info.name;
    EXPECT_GT(info.meaning.size(), 10u) << info.name << " needs a meaning";
    EXPECT_EQ(&GetKnobInfo(info.knob), &info);
    EXPECT_EQ(FindKnob(info.name), &info);
  }
  EXPECT_EQ(FindKnob("TIDAL_NO_SUCH_KNOB"), nullptr);
}

TEST(Knobs, ParsesIntegersAndBooleansWithClearErrors) {
  ::setenv("TIDAL_SPIN_US", "250", 1);
  EXPECT_EQ(*KnobInt(Knob::kSpinUs), 250);
  ::setenv("TIDAL_SPIN_US", "25x", 1);
  Result<int64_t> bad = KnobInt(Knob::kSpinUs);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("TIDAL_SPIN_US=25x"), std::string_view::npos);
  ::unsetenv("TIDAL_SPIN_US");
  EXPECT_EQ(*KnobInt(Knob::kSpinUs), 100);  // the table's default
  EXPECT_FALSE(KnobIsSet(Knob::kSpinUs));
  EXPECT_EQ(*KnobInt(Knob::kStorePort, 17), 17);  // empty default: the caller's fallback
  ::setenv("TIDAL_DEBUG", "On", 1);
  EXPECT_TRUE(*KnobBool(Knob::kDebug));
  ::setenv("TIDAL_DEBUG", "maybe", 1);
  EXPECT_FALSE(KnobBool(Knob::kDebug).ok());
  ::unsetenv("TIDAL_DEBUG");
}

// Scans every source, script and document in the repository for TIDAL_* names that look like
// environment variables, and requires each to be in the table.
TEST(Knobs, EverySourceMentionIsInTheTable) {
  namespace fs = std::filesystem;
  const std::regex name_re("TIDAL_[A-Z0-9_]+");
  // Names that are CMake options, compile definitions or macros, not environment knobs.
  const std::regex not_a_knob(
      "TIDAL_(BUILD|WERROR|SANITIZE|CUDA|HAVE|VERSION|SOURCE|BINARY|KNOB|LOG|CHECK|DCHECK|"
      "RETURN|ASSIGN|CONCAT|THREAD|CAPABILITY|SCOPED|GUARDED|PT_GUARDED|REQUIRES|EXCLUDES|"
      "ACQUIRE|RELEASE|NO_THREAD|NO_SUCH|SANITIZED|EXPORT|C_API|API|OK|ERR|DTYPE|OP|ALGO_|INTERNAL|"
      "HOST_DEVICE|PERF_COLL|TEST_)"
      "[A-Z0-9_]*");
  std::set<std::string> unknown;
  for (const char* dir : {"runtime", "collectives", "gossip", "optim", "tools", "perf", "tests"}) {
    const fs::path root = fs::path(TIDAL_SOURCE_DIR) / dir;
    if (!fs::exists(root)) continue;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
      if (!entry.is_regular_file()) continue;
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      const std::string content = text.str();
      for (auto it = std::sregex_iterator(content.begin(), content.end(), name_re);
           it != std::sregex_iterator(); ++it) {
        const std::string name = it->str();
        if (name.back() == '_' || std::regex_match(name, not_a_knob)) continue;
        if (FindKnob(name) == nullptr) unknown.insert(name + " in " + entry.path().string());
      }
    }
  }
  for (const std::string& u : unknown) ADD_FAILURE() << "not in the knob table: " << u;
}

// README.md documents every knob with its default (tools/gen_knob_table.py regenerates the table).
TEST(Knobs, ReadmeDocumentsEveryKnobWithItsDefault) {
  std::ifstream in(std::filesystem::path(TIDAL_SOURCE_DIR) / "README.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string readme = text.str();
  const size_t begin = readme.find("<!-- knobs:begin -->");
  const size_t end = readme.find("<!-- knobs:end -->");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const std::string table = readme.substr(begin, end - begin);
  for (const KnobInfo& info : AllKnobs()) {
    std::string row = "| `" + std::string(info.name) + "` | ";
    if (!info.default_value.empty()) row += "`" + std::string(info.default_value) + "` |";
    EXPECT_NE(table.find(row), std::string::npos)
        << "README.md's knob table lacks " << row << " (run tools/gen_knob_table.py)";
  }
}

}  // namespace
}  // namespace tidal
