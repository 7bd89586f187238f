#include "data_parallel.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "graft/core/error.h"

namespace graft::cli {
namespace {

// This very command again, under mpirun with `processes` ranks and the cores split between them.
[[noreturn]] void relaunch_under_mpirun(int processes, const char* command_name) {
  std::ifstream saved("/proc/self/cmdline", std::ios::binary);
  std::vector<std::string> arguments;
  for (std::string argument; std::getline(saved, argument, '\0');) arguments.push_back(argument);
  const int threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / processes);
  std::vector<std::string> command = {"mpirun", "-np", std::to_string(processes), "--oversubscribe"};
  if (geteuid() == 0) command.emplace_back("--allow-run-as-root");
  command.insert(command.end(), {"-x", "OMP_NUM_THREADS=" + std::to_string(threads),
                                 std::filesystem::read_symlink("/proc/self/exe").string()});
  for (size_t i = 1; i < arguments.size(); ++i) {
    if (arguments[i] == "--nproc") {
      ++i;  // and its value
    } else if (arguments[i].rfind("--nproc=", 0) != 0) {
      command.push_back(arguments[i]);
    }
  }
  std::cerr << "graft " << command_name << " --nproc " << processes << ": " << processes << " ranks of " << threads
            << " threads each, under mpirun\n";
  std::vector<char*> argv;
  for (std::string& part : command) argv.push_back(part.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  throw Error(std::string("[") + command_name +
              "] --nproc needs Open MPI's mpirun on the PATH (scripts/install-deps.sh): " + std::strerror(errno));
}

}  // namespace

void add_nproc_option(CLI::App& command, int& nproc) {
  command
      .add_option("--nproc", nproc,
                  "Data-parallel over N local processes (started through mpirun, the cores split between them)")
      ->capture_default_str();
}

Communicator& command_ranks(int nproc, const char* command) {
  check(nproc >= 1, command, "--nproc must be at least 1, got " + std::to_string(nproc));
  if (nproc > 1) {
    check(world().world_size() == 1, command, "--nproc starts mpirun itself: leave it out under mpirun");
    relaunch_under_mpirun(nproc, command);
  }
  return world();
}

void run_on_rank(Communicator& ranks, const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& error) {
    if (ranks.world_size() == 1) throw;
    std::cerr << "graft: " << ranks.message_prefix() << error.what() << '\n';
    ranks.abort(1);
  }
}

}  // namespace graft::cli
