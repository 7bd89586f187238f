// MPI's world (the C API of Open MPI). Sums are a reduction to rank 0 and a broadcast of its result rather than
// MPI_Allreduce, whose algorithms may associate the sum differently on different ranks: the ranks' parameters
// must stay bit for bit the same.
#include "distributed/mpi_world.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <string>

#include "graft/core/error.h"

namespace graft::distributed {
namespace {

void check_mpi(int status, const char* what) {
  if (status == MPI_SUCCESS) return;
  char message[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, message, &length);
  throw Error(std::string("[distributed] ") + what + " failed: " + std::string(message, static_cast<size_t>(length)));
}

class MpiWorld final : public Communicator {
 public:
  // Only the thread that made the world (the main one, in graft's CLI) calls MPI: FUNNELED is enough.
  MpiWorld() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized == 0) {
      int provided = 0;
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      if (provided < MPI_THREAD_FUNNELED) {
        throw Error("[distributed] this MPI gives no thread support (MPI_THREAD_FUNNELED), which graft's threads need");
      }
      owns_mpi_ = true;
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  // A host application that initialised MPI finalises it too.
  ~MpiWorld() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owns_mpi_ && finalized == 0) MPI_Finalize();
  }
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  void all_reduce_sum(std::span<float> values) override { sum(values.data(), values.size(), MPI_FLOAT); }
  void all_reduce_sum(std::span<double> values) override { sum(values.data(), values.size(), MPI_DOUBLE); }
  void broadcast(std::span<float> values, int root) override {
    for_chunks(values.data(), values.size(), sizeof(float), [&](void* chunk, int count) {
      check_mpi(MPI_Bcast(chunk, count, MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
    });
  }
  void barrier() override { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this tells the compiler so
  }

 private:
  // MPI counts are ints: larger buffers go in pieces.
  template <typename Each>
  static void for_chunks(void* data, size_t count, size_t element_bytes, const Each& each) {
    auto* bytes = static_cast<char*>(data);
    for (size_t done = 0; done < count;) {
      const size_t chunk = std::min(count - done, static_cast<size_t>(INT_MAX));
      each(bytes + done * element_bytes, static_cast<int>(chunk));
      done += chunk;
    }
  }
  void sum(void* data, size_t count, MPI_Datatype type) {
    int element_bytes = 0;
    MPI_Type_size(type, &element_bytes);
    for_chunks(data, count, static_cast<size_t>(element_bytes), [&](void* chunk, int chunk_count) {
      void* send = rank_ == 0 ? MPI_IN_PLACE : chunk;
      check_mpi(MPI_Reduce(send, rank_ == 0 ? chunk : nullptr, chunk_count, type, MPI_SUM, 0, MPI_COMM_WORLD),
                "MPI_Reduce");
      check_mpi(MPI_Bcast(chunk, chunk_count, type, 0, MPI_COMM_WORLD), "MPI_Bcast");
    });
  }

  int rank_ = 0;
  int size_ = 1;
  bool owns_mpi_ = false;
};

}  // namespace

Communicator* mpi_world() {
  static MpiWorld world;
  return &world;
}

}  // namespace graft::distributed
