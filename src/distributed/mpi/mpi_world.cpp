// MPI's world (the C API of Open MPI). Sums are a reduction to rank 0 and a broadcast of its result rather than
// MPI_Allreduce, whose algorithms may associate the sum differently on different ranks: the ranks' parameters
// must stay bit for bit the same.
//
// Every MPI call but MPI_Abort runs on one thread of the world's own, in the order the ranks queue them, so that a
// sum started during a backward (start_all_reduce_sum) runs while the backward goes on, and MPI needs no more
// thread support than FUNNELED. That thread calls MPI's blocking collectives, Open MPI's tuned algorithms: its
// non-blocking ones, tested in a loop, were slower (bench/data_parallel.sh, 2 ranks on 2 cores: 15.8-16.1 samples/s
// blocking; 14.8-15.6 testing and yielding between tests, 13.0-13.9 sleeping 200 us between tests while the backward
// goes on, 5.4 sleeping 50 us between all tests, as each round of a segmented sum then waits out the sleep).
#include "distributed/mpi_world.h"

#include <mpi.h>

#include <algorithm>
#include <climits>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

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
  MpiWorld() : thread_([this] { serve(); }) {
    try {
      run([this] { initialize(); });
    } catch (...) {
      stop();
      throw;
    }
  }
  // A host application that initialised MPI finalises it too.
  ~MpiWorld() override {
    run([this] {
      int finalized = 0;
      MPI_Finalized(&finalized);
      if (owns_mpi_ && finalized == 0) MPI_Finalize();
    });
    stop();
  }
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const override { return rank_; }
  int world_size() const override { return size_; }
  void all_reduce_sum(std::span<float> values) override {
    run([&] { sum(values, MPI_FLOAT); });
  }
  void all_reduce_sum(std::span<double> values) override {
    run([&] { sum(values, MPI_DOUBLE); });
  }
  std::future<void> start_all_reduce_sum(std::span<float> values) override {
    return start([this, values] { sum(values, MPI_FLOAT); });
  }
  void broadcast(std::span<float> values, int root) override {
    run([&] {
      for_chunks(values.data(), values.size(), sizeof(float), [&](void* chunk, int count) {
        check_mpi(MPI_Bcast(chunk, count, MPI_FLOAT, root, MPI_COMM_WORLD), "MPI_Bcast");
      });
    });
  }
  void barrier() override {
    run([] { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); });
  }
  // From the calling thread: the world's own may be waiting in a sum for the rank that failed.
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; this tells the compiler so
  }

 private:
  void initialize() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized == 0) {
      int provided = 0;
      check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      if (provided < MPI_THREAD_FUNNELED) {
        throw Error("[distributed] this MPI gives no thread support (MPI_THREAD_FUNNELED), which graft's threads need");
      }
      owns_mpi_ = true;
    } else {
      // The application's own MPI calls may run beside this thread's.
      int level = 0;
      MPI_Query_thread(&level);
      if (level < MPI_THREAD_MULTIPLE) {
        throw Error(
            "[distributed] the application initialised MPI below MPI_THREAD_MULTIPLE, but graft makes its MPI "
            "calls on a thread of its own: initialise it with MPI_Init_thread(..., MPI_THREAD_MULTIPLE, ...)");
      }
    }
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }

  // The world's thread: runs the queued calls in order until the world is destroyed.
  void serve() {
    for (;;) {
      std::packaged_task<void()> call;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        queued_.wait(lock, [this] { return stopping_ || !calls_.empty(); });
        if (calls_.empty()) return;
        call = std::move(calls_.front());
        calls_.pop_front();
      }
      call();  // its exception goes to its future
    }
  }
  std::future<void> start(std::function<void()> call) {
    std::packaged_task<void()> task(std::move(call));
    std::future<void> done = task.get_future();
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      calls_.push_back(std::move(task));
    }
    queued_.notify_one();
    return done;
  }
  void run(std::function<void()> call) { start(std::move(call)).get(); }
  void stop() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    queued_.notify_one();
    thread_.join();
  }

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
  template <typename Value>
  void sum(std::span<Value> values, MPI_Datatype type) {
    for_chunks(values.data(), values.size(), sizeof(Value), [&](void* chunk, int count) {
      void* send = rank_ == 0 ? MPI_IN_PLACE : chunk;
      check_mpi(MPI_Reduce(send, rank_ == 0 ? chunk : nullptr, count, type, MPI_SUM, 0, MPI_COMM_WORLD), "MPI_Reduce");
      check_mpi(MPI_Bcast(chunk, count, type, 0, MPI_COMM_WORLD), "MPI_Bcast");
    });
  }

  int rank_ = 0;
  int size_ = 1;
  bool owns_mpi_ = false;
  std::mutex mutex_;
  std::condition_variable queued_;
  std::deque<std::packaged_task<void()>> calls_;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts once the rest is built
};

}  // namespace

Communicator* mpi_world() {
  static MpiWorld world;
  return &world;
}

}  // namespace graft::distributed
