// store_probe: a test helper run under tidalrun. Connects to the job's store from the
// environment (TIDAL_STORE_ADDR/PORT/SECRET), waits for KEY and prints "KEY = VALUE".
//   store_probe KEY [TIMEOUT_MS]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tidal/store/tcp_store.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: store_probe KEY [TIMEOUT_MS]\n");
    return 2;
  }
  const long timeout_ms = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 5000;
  const tidal::Deadline deadline = tidal::Deadline::AfterMs(timeout_ms);
  tidal::Result<tidal::TcpStoreOptions> options = tidal::TcpStoreOptions::FromEnv();
  if (!options.ok()) {
    std::fprintf(stderr, "store_probe: %s\n", options.status().ToString().c_str());
    return 1;
  }
  auto store = tidal::TcpStore::Connect(*options, deadline);
  if (!store.ok()) {
    std::fprintf(stderr, "store_probe: %s\n", store.status().ToString().c_str());
    return 1;
  }
  tidal::Result<std::string> value = tidal::GetString(**store, argv[1], deadline);
  if (!value.ok()) {
    std::fprintf(stderr, "store_probe: %s\n", value.status().ToString().c_str());
    return 1;
  }
  std::printf("%s = %s\n", argv[1], value->c_str());
  return 0;
}
