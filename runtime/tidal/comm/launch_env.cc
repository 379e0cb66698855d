#include "tidal/comm/launch_env.h"

#include <cerrno>
#include <cstdlib>

#include "tidal/core/knobs.h"

namespace tidal {
namespace {

struct IdentityVars {
  Launcher launcher;
  const char* rank;
  const char* size;
  const char* local_rank;
  const char* local_size;
};

// In order of precedence: tidal's own variables win, so that a user can override a launcher.
constexpr IdentityVars kIdentities[] = {
    {Launcher::kTidalrun, "TIDAL_RANK", "TIDAL_WORLD_SIZE", "TIDAL_LOCAL_RANK", "TIDAL_LOCAL_SIZE"},
    {Launcher::kTorchrun, "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"},
    {Launcher::kOpenMpi, "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
     "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {Launcher::kSlurm, "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", nullptr},
};

// Parses a decimal integer in [lo, hi]; `name` and `text` go into the error.
Result<int64_t> ParseInt(std::string_view name, const std::string& text, int64_t lo, int64_t hi) {
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || *end != '\0' || value < lo || value > hi) {
    return InvalidArgumentError(name, "=", text, " is not an integer in [", lo, ", ", hi, "]");
  }
  return static_cast<int64_t>(value);
}

// Reads an optional integer variable; -1 when unset.
Result<int> OptionalInt(const EnvReader& env, const char* name, int64_t lo, int64_t hi) {
  if (name == nullptr) return -1;
  std::optional<std::string> text = env(name);
  if (!text.has_value()) return -1;
  TIDAL_ASSIGN_OR_RETURN(int64_t value, ParseInt(name, *text, lo, hi));
  return static_cast<int>(value);
}

Status ReadIdentity(const EnvReader& env, const IdentityVars& vars, LaunchInfo* info) {
  TIDAL_ASSIGN_OR_RETURN(int64_t size,
                         ParseInt(vars.size, env(vars.size).value_or(""), 1, 1 << 20));
  TIDAL_ASSIGN_OR_RETURN(int64_t rank, ParseInt(vars.rank, *env(vars.rank), 0, size - 1));
  info->launcher = vars.launcher;
  info->rank = static_cast<int>(rank);
  info->size = static_cast<int>(size);
  TIDAL_ASSIGN_OR_RETURN(info->local_size, OptionalInt(env, vars.local_size, 1, size));
  const int64_t local_hi = info->local_size > 0 ? info->local_size - 1 : size - 1;
  TIDAL_ASSIGN_OR_RETURN(info->local_rank, OptionalInt(env, vars.local_rank, 0, local_hi));
  return Status::Ok();
}

// A port every rank of a job derives alike from the job's id: 20000 + hash % 10000.
uint16_t PortFromJobId(std::string_view job_id) {
  uint32_t hash = 2166136261u;  // FNV-1a
  for (char c : job_id) hash = (hash ^ static_cast<uint8_t>(c)) * 16777619u;
  return static_cast<uint16_t>(20000 + hash % 10000);
}

std::optional<std::string> JobId(const EnvReader& env, Launcher launcher) {
  if (launcher == Launcher::kOpenMpi) {
    for (const char* name :
         {"OMPI_MCA_ess_base_jobid", "PMIX_NAMESPACE", "OMPI_MCA_orte_hnp_uri"}) {
      if (std::optional<std::string> id = env(name)) return *id;
    }
  }
  if (launcher == Launcher::kSlurm) {
    std::optional<std::string> job = env("SLURM_JOB_ID");
    if (job) return *job + "." + env("SLURM_STEP_ID").value_or("0");
  }
  return std::nullopt;
}

Result<uint16_t> StorePort(const EnvReader& env, Launcher launcher) {
  if (std::optional<std::string> port = env("TIDAL_STORE_PORT")) {
    TIDAL_ASSIGN_OR_RETURN(int64_t value, ParseInt("TIDAL_STORE_PORT", *port, 1, 65535));
    return static_cast<uint16_t>(value);
  }
  if (launcher == Launcher::kTorchrun) {
    std::optional<std::string> master = env("MASTER_PORT");
    if (!master)
      return InvalidArgumentError("torchrun launch without MASTER_PORT: set TIDAL_STORE_PORT");
    TIDAL_ASSIGN_OR_RETURN(int64_t value, ParseInt("MASTER_PORT", *master, 1, 65534));
    return static_cast<uint16_t>(value + 1);
  }
  if (std::optional<std::string> job = JobId(env, launcher)) return PortFromJobId(*job);
  return InvalidArgumentError(LauncherName(launcher),
                              " launch without a job id: set TIDAL_STORE_PORT");
}

Status ReadStore(const EnvReader& env, LaunchInfo* info) {
  info->secret = env("TIDAL_SECRET").value_or("");
  if (info->size == 1 && info->launcher == Launcher::kNone) return Status::Ok();
  info->store_file = env("TIDAL_STORE_FILE").value_or("");
  if (!info->store_file.empty()) return Status::Ok();
  std::optional<std::string> host = env("TIDAL_STORE_ADDR");
  if (!host && info->launcher == Launcher::kTorchrun) host = env("MASTER_ADDR");
  const bool one_host = info->local_size == info->size;
  if (!host && !one_host && info->launcher != Launcher::kTidalrun) {
    return InvalidArgumentError(LauncherName(info->launcher),
                                " launch across hosts: set TIDAL_STORE_ADDR to rank 0's address");
  }
  info->store_host = host.value_or("127.0.0.1");
  TIDAL_ASSIGN_OR_RETURN(info->store_port, StorePort(env, info->launcher));
  info->hosts_store = info->launcher != Launcher::kTidalrun && info->rank == 0;
  const bool loopback = info->store_host == "127.0.0.1" || info->store_host == "localhost";
  info->store_bind = env("TIDAL_STORE_BIND").value_or(loopback ? "127.0.0.1" : "0.0.0.0");
  return Status::Ok();
}

}  // namespace

std::string_view LauncherName(Launcher launcher) {
  switch (launcher) {
    case Launcher::kNone:
      return "single-process";
    case Launcher::kTidalrun:
      return "tidalrun";
    case Launcher::kTorchrun:
      return "torchrun";
    case Launcher::kOpenMpi:
      return "Open MPI";
    case Launcher::kSlurm:
      return "Slurm";
  }
  return "?";
}

EnvReader ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const std::string key(name);
    const char* value = std::getenv(key.c_str());  // NOLINT(concurrency-mt-unsafe)
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

Result<LaunchInfo> ReadLaunchEnv(const EnvReader& env) {
  LaunchInfo info;
  for (const IdentityVars& vars : kIdentities) {
    if (!env(vars.rank).has_value()) continue;
    TIDAL_RETURN_IF_ERROR(
        ReadIdentity(env, vars, &info)
            .WithContext(StrCat("reading the ", LauncherName(vars.launcher), " environment")));
    break;
  }
  TIDAL_RETURN_IF_ERROR(ReadStore(env, &info));
  return info;
}

}  // namespace tidal
