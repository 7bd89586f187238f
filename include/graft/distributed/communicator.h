#pragma once
// The processes of a data-parallel run and what they exchange: sums of gradient buckets and loss counts, the
// parameters broadcast from rank 0, barriers. One process (the default) is a communicator of one; under mpirun
// graft talks MPI (Open MPI, Debian's), a communication engine of its own it never grows.
#include <future>
#include <span>
#include <string>

namespace graft {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Sums `values` over the ranks, in place. Every rank gets the same bits (parameters stay identical).
  virtual void all_reduce_sum(std::span<float> values) = 0;
  virtual void all_reduce_sum(std::span<double> values) = 0;
  // all_reduce_sum(values), started and left to run where the communicator can (MPI sums on a thread of their own),
  // so that a backward goes on meanwhile; the future is ready once `values`, untouched until then, hold the sum.
  // Collectives still run in the order every rank starts them. By default the sum is done when this returns.
  virtual std::future<void> start_all_reduce_sum(std::span<float> values);
  // Rank `root`'s values, on every rank.
  virtual void broadcast(std::span<float> values, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank's process with `code`: a failing rank must not leave the others waiting in a reduction.
  [[noreturn]] virtual void abort(int code) = 0;
  // "[rank N] " for messages of a run with several ranks; empty for one process.
  std::string message_prefix() const;
};

// The communicator of one process: reductions are identities.
Communicator& single_process();

// MPI's world when this process was started by mpirun (OMPI_COMM_WORLD_SIZE in the environment) and graft was built
// with MPI; single_process() otherwise. graft::Error when mpirun started it but graft has no MPI, and when torchrun's
// environment asks for several processes (WORLD_SIZE > 1), which MPI cannot join.
Communicator& world();

}  // namespace graft
