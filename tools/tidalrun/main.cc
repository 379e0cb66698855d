// tidalrun: runs N local ranks of a program as one tidal job.
//
//   tidalrun -n 4 [--timeout 60] [--grace 2] [--no-tag-output] prog [args...]
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "tidalrun/launcher.h"

int main(int argc, char** argv) {
  tidal::tools::LaunchOptions options;
  double timeout_s = 0;
  double grace_s = 2;
  bool no_tag = false;
  CLI::App app{
      "tidalrun: starts N local ranks of a program, hosts their rendezvous store, prefixes "
      "output with the rank, and stops every rank if one fails."};
  app.add_option("-n,--np", options.ranks, "number of ranks")
      ->required()
      ->check(CLI::Range(1, 4096));
  app.add_option("--timeout", timeout_s, "stop every rank after this many seconds (exit 124)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--grace", grace_s,
                 "seconds the other ranks get after a failure before SIGTERM, then SIGKILL")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--no-tag-output", no_tag, "do not prefix output lines with [rank]");
  app.prefix_command();  // everything from the program on belongs to the program
  app.footer("prog [args...]  the program every rank runs, with its arguments");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  options.command = app.remaining();
  if (options.command.empty()) {
    std::fprintf(stderr, "tidalrun: no program given\n%s", app.help().c_str());
    return 2;
  }
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  options.grace = std::chrono::milliseconds(static_cast<int64_t>(grace_s * 1000));
  options.tag_output = !no_tag;
  return tidal::tools::Launch(options);
}
