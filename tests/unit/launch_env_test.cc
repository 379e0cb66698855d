// ReadLaunchEnv against the environments each launcher really sets.
#include "tidal/comm/launch_env.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace tidal {
namespace {

EnvReader FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(LaunchEnv, SingleProcessWithoutLauncher) {
  Result<LaunchInfo> info = ReadLaunchEnv(FakeEnv({}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->launcher, Launcher::kNone);
  EXPECT_EQ(info->rank, 0);
  EXPECT_EQ(info->size, 1);
  EXPECT_TRUE(info->store_host.empty());
}

TEST(LaunchEnv, Tidalrun) {
  Result<LaunchInfo> info = ReadLaunchEnv(FakeEnv({{"TIDAL_RANK", "2"},
                                                   {"TIDAL_WORLD_SIZE", "4"},
                                                   {"TIDAL_LOCAL_RANK", "2"},
                                                   {"TIDAL_LOCAL_SIZE", "4"},
                                                   {"TIDAL_STORE_ADDR", "127.0.0.1"},
                                                   {"TIDAL_STORE_PORT", "29400"},
                                                   {"TIDAL_SECRET", "s3cret"}}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->launcher, Launcher::kTidalrun);
  EXPECT_EQ(info->rank, 2);
  EXPECT_EQ(info->size, 4);
  EXPECT_EQ(info->local_rank, 2);
  EXPECT_EQ(info->store_port, 29400);
  EXPECT_FALSE(info->hosts_store);  // tidalrun hosts it
  EXPECT_EQ(info->secret, "s3cret");
}

TEST(LaunchEnv, TorchrunUsesTheNextPortAfterMasterPort) {
  auto env = [](const char* rank) {
    return FakeEnv({{"RANK", rank},
                    {"WORLD_SIZE", "2"},
                    {"LOCAL_RANK", rank},
                    {"LOCAL_WORLD_SIZE", "2"},
                    {"MASTER_ADDR", "127.0.0.1"},
                    {"MASTER_PORT", "29500"}});
  };
  Result<LaunchInfo> r0 = ReadLaunchEnv(env("0"));
  Result<LaunchInfo> r1 = ReadLaunchEnv(env("1"));
  ASSERT_TRUE(r0.ok() && r1.ok());
  EXPECT_EQ(r0->launcher, Launcher::kTorchrun);
  EXPECT_EQ(r0->store_port, 29501);
  EXPECT_TRUE(r0->hosts_store);
  EXPECT_FALSE(r1->hosts_store);
  EXPECT_EQ(r0->store_bind, "127.0.0.1");
}

TEST(LaunchEnv, OpenMpiDerivesOnePortForTheWholeJob) {
  auto env = [](const char* rank) {
    return FakeEnv({{"OMPI_COMM_WORLD_RANK", rank},
                    {"OMPI_COMM_WORLD_SIZE", "3"},
                    {"OMPI_COMM_WORLD_LOCAL_RANK", rank},
                    {"OMPI_COMM_WORLD_LOCAL_SIZE", "3"},
                    {"PMIX_NAMESPACE", "prterun-host-1234@1"}});
  };
  Result<LaunchInfo> r0 = ReadLaunchEnv(env("0"));
  Result<LaunchInfo> r2 = ReadLaunchEnv(env("2"));
  ASSERT_TRUE(r0.ok() && r2.ok()) << r0.status() << r2.status();
  EXPECT_EQ(r0->launcher, Launcher::kOpenMpi);
  EXPECT_EQ(r0->store_port, r2->store_port);
  EXPECT_GE(r0->store_port, 20000);
  EXPECT_LT(r0->store_port, 30000);
  EXPECT_EQ(r2->store_host, "127.0.0.1");
}

TEST(LaunchEnv, SlurmAcrossHostsNeedsAStoreAddress) {
  Result<LaunchInfo> info = ReadLaunchEnv(FakeEnv({{"SLURM_PROCID", "5"},
                                                   {"SLURM_NTASKS", "8"},
                                                   {"SLURM_LOCALID", "1"},
                                                   {"SLURM_JOB_ID", "77"}}));
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("TIDAL_STORE_ADDR"), std::string_view::npos);
  info = ReadLaunchEnv(FakeEnv({{"SLURM_PROCID", "5"},
                                {"SLURM_NTASKS", "8"},
                                {"SLURM_LOCALID", "1"},
                                {"SLURM_JOB_ID", "77"},
                                {"TIDAL_STORE_ADDR", "10.0.0.1"}}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->launcher, Launcher::kSlurm);
  EXPECT_EQ(info->local_rank, 1);
  EXPECT_EQ(info->local_size, -1);
  EXPECT_EQ(info->store_bind, "0.0.0.0");
}

TEST(LaunchEnv, FileStoreNeedsNoAddressOrPort) {
  Result<LaunchInfo> info = ReadLaunchEnv(FakeEnv(
      {{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"TIDAL_STORE_FILE", "/shared/job7"}}));
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->store_file, "/shared/job7");
  EXPECT_FALSE(info->hosts_store);
  EXPECT_TRUE(info->store_host.empty());
}

TEST(LaunchEnv, MalformedValuesNameTheVariable) {
  Result<LaunchInfo> info =
      ReadLaunchEnv(FakeEnv({{"RANK", "4"}, {"WORLD_SIZE", "4"}, {"MASTER_PORT", "1"}}));
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(info.status().message().find("RANK=4"), std::string_view::npos) << info.status();
  info = ReadLaunchEnv(FakeEnv({{"TIDAL_RANK", "x"}, {"TIDAL_WORLD_SIZE", "2"}}));
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("TIDAL_RANK=x"), std::string_view::npos);
  info = ReadLaunchEnv(
      FakeEnv({{"TIDAL_RANK", "0"}, {"TIDAL_WORLD_SIZE", "2"}, {"TIDAL_STORE_PORT", "70000"}}));
  ASSERT_FALSE(info.ok());
  EXPECT_NE(info.status().message().find("TIDAL_STORE_PORT=70000"), std::string_view::npos);
}

}  // namespace
}  // namespace tidal
