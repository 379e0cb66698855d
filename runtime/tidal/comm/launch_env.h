// LaunchEnv: who this process is in the job, read from whichever launcher started it, and where
// the job's rendezvous store lives. Clusters launch tidal with the launchers they already run:
//
//   launcher   identity variables                                    store
//   tidalrun   TIDAL_RANK, TIDAL_WORLD_SIZE, TIDAL_LOCAL_RANK/SIZE   TIDAL_STORE_ADDR/PORT,
//   TIDAL_SECRET
//                                                                    (hosted by tidalrun)
//   torchrun   RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE        MASTER_ADDR; port
//   TIDAL_STORE_PORT
//                                                                    or MASTER_PORT + 1 (torchrun's
//                                                                    own store holds MASTER_PORT)
//   Open MPI   OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE  TIDAL_STORE_ADDR or
//   127.0.0.1;
//                                                                    port TIDAL_STORE_PORT or
//                                                                    derived from the job id
//   Slurm      SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID             as Open MPI (job and step id)
//   none       a single process: rank 0 of 1                         in-process
//
// Under every launcher but tidalrun, rank 0 hosts the store server, unless TIDAL_STORE_FILE names
// a directory on a file system all ranks share (then that is the store). TIDAL_* variables, when
// set, override what a launcher says. Without TIDAL_SECRET the store admits loopback clients only.
//
// Thread safety: ReadLaunchEnv is a pure function of the reader it is given.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "tidal/core/status.h"

namespace tidal {

enum class Launcher { kNone, kTidalrun, kTorchrun, kOpenMpi, kSlurm };

std::string_view LauncherName(Launcher launcher);

struct LaunchInfo {
  Launcher launcher = Launcher::kNone;
  int rank = 0;
  int size = 1;
  // -1 when the launcher does not say: the communicator derives it from the placements.
  int local_rank = -1;
  int local_size = -1;
  // The rendezvous store; empty host for a single process (in-process store).
  std::string store_host;
  uint16_t store_port = 0;
  // Whether this process hosts the store server (rank 0 under launchers other than tidalrun),
  // and the address it binds.
  bool hosts_store = false;
  std::string store_bind;
  // TIDAL_STORE_FILE: a directory every rank sees (shared file system). When set, the job's
  // store is a FileStore there and no TCP store is hosted or contacted.
  std::string store_file;
  std::string secret;
};

// Returns the value of an environment variable, or nullopt when unset.
using EnvReader = std::function<std::optional<std::string>(std::string_view name)>;
// Reads the real environment.
EnvReader ProcessEnv();

// Works out the launch. Returns kInvalidArgument naming the variable for malformed or
// inconsistent values (e.g. "RANK=5 is not below WORLD_SIZE=4").
Result<LaunchInfo> ReadLaunchEnv(const EnvReader& env);

}  // namespace tidal
