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

bool started_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMI_SIZE") != nullptr;
}

}  // namespace

std::string Communicator::message_prefix() const {
  return world_size() > 1 ? "[rank " + std::to_string(rank()) + "] " : "";
}

Communicator& single_process() {
  static SingleProcess communicator;
  return communicator;
}

Communicator& world() {
  if (!started_by_mpirun()) return single_process();
  Communicator* mpi = distributed::mpi_world();
  check(mpi != nullptr, "distributed",
        "this process was started by mpirun, but graft was built without MPI (install libopenmpi-dev and rebuild)");
  return *mpi;
}

}  // namespace graft
