#pragma once
// What the training commands (train, pretrain) share to run data-parallel: --nproc, the ranks they run as, and
// how a failing rank ends the run.
#include <CLI/CLI.hpp>
#include <functional>

#include "graft/distributed/communicator.h"

namespace graft::cli {

// --nproc N: data-parallel over N local processes.
void add_nproc_option(CLI::App& command, int& nproc);

// The ranks `command` runs as: MPI's world under mpirun, else one process. With nproc > 1 this process runs itself
// again under mpirun with nproc ranks and the cores split between them, and does not return.
Communicator& command_ranks(int nproc, const char* command);

// Runs `body`. With several ranks, an exception on this one is printed as "graft: [rank N] ..." and aborts every
// rank: the others would wait for this one in their next sum.
void run_on_rank(Communicator& ranks, const std::function<void()>& body);

}  // namespace graft::cli
