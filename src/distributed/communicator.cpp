#include "graft/distributed/communicator.h"

#include <cstdlib>

#include "distributed/mpi_world.h"
#include "graft/core/error.h"

namespace graft {
namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void all_reduce_sum(std::span<float>) override {}
  void all_reduce_sum(std::span<double>) override {}
  void broadcast(std::span<float>, int root) override {
    check(root == 0, "distributed", "broadcast from rank " + std::to_string(root) + " of a single process");
  }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

// Open MPI's mpirun says the world's size to each process it starts.
const char* mpirun_world_size() {
  return std::getenv("OMPI_COMM_WORLD_SIZE");
}

// torchrun (and the launchers that copy it) start each process with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT.
// graft's ranks talk MPI, whose processes mpirun must start: N processes that each ran alone would train N models
// and write one folder N times, so a world of several is refused, saying what to run instead.
void refuse_torchruns_world() {
  const char* size = std::getenv("WORLD_SIZE");
  if (size == nullptr || std::string(size) == "1") return;
  const char* rank = std::getenv("RANK");
  throw Error("[distributed] WORLD_SIZE=" + std::string(size) + " (RANK=" + (rank != nullptr ? rank : "unset") +
              "): this process was started by torchrun or a launcher like it, but graft's ranks talk MPI, which "
              "starts them itself: run `mpirun -np N graft ...` or `graft train --nproc N` instead");
}

}  // namespace

std::future<void> Communicator::start_all_reduce_sum(std::span<float> values) {
  std::promise<void> done;
  all_reduce_sum(values);
  done.set_value();
  return done.get_future();
}

std::string Communicator::message_prefix() const {
  return world_size() > 1 ? "[rank " + std::to_string(rank()) + "] " : "";
}

Communicator& single_process() {
  static SingleProcess communicator;
  return communicator;
}

Communicator& world() {
  const char* size = mpirun_world_size();
  if (size == nullptr) {
    refuse_torchruns_world();
    return single_process();
  }
  Communicator* mpi = distributed::mpi_world();
  check(mpi != nullptr, "distributed",
        "this process was started by mpirun, but graft was built without MPI (install libopenmpi-dev and rebuild)");
  // An MPI other than the one mpirun belongs to would make each process a world of its own, silently.
  check(std::to_string(mpi->world_size()) == size, "distributed",
        "mpirun started " + std::string(size) + " processes, but MPI sees a world of " +
            std::to_string(mpi->world_size()) + ": graft was built against another MPI than this mpirun's");
  return *mpi;
}

}  // namespace graft
