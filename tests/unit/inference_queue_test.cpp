// The server's queue (src/serve/inference_queue.h) with a runner of the test's own: batches formed in order within
// the token and request budgets, each job answered with its own result, a failing input failing only its own
// request, bounded admission, and drain.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>

#include "graft/core/error.h"
#include "serve/inference_queue.h"

namespace graft::serve {
namespace {

// A job of `tokens` tokens, its first token id telling the runner which job it is.
Job job_of(int64_t id, int64_t tokens) {
  Job job;
  Encoding encoding;
  encoding.ids.assign(static_cast<size_t>(tokens), 0);
  encoding.ids[0] = id;
  job.encodings.push_back(encoding);
  return job;
}

// Holds the worker in its first batch until released, so that the jobs queued meanwhile batch together.
class GatedRunner {
 public:
  std::vector<JobResult> operator()(const std::vector<Job*>& jobs) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      batches_.emplace_back();
      for (const Job* job : jobs) batches_.back().push_back(job->encodings[0].ids[0]);
      released_.wait(lock, [this] { return open_; });
    }
    std::vector<JobResult> results;
    for (const Job* job : jobs) {
      if (job->encodings[0].ids[0] < 0) throw Error("[test] job " + std::to_string(job->encodings[0].ids[0]));
      JobResult result;
      result.embeddings.push_back({static_cast<float>(job->encodings[0].ids[0])});
      results.push_back(result);
    }
    return results;
  }
  void release() {
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      open_ = true;
    }
    released_.notify_all();
  }
  std::vector<std::vector<int64_t>> batches() {
    const std::lock_guard<std::mutex> lock(mutex_);
    return batches_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool open_ = false;
  std::vector<std::vector<int64_t>> batches_;
};

struct QueueUnderTest {
  explicit QueueUnderTest(BatchLimits limits)
      : queue(limits, [this](const std::vector<Job*>& jobs) { return runner(jobs); }, nullptr) {}
  GatedRunner runner;
  InferenceQueue queue;  // after the runner: joined (in its destructor) before the runner goes
};

// Waits until the worker has taken its first batch (job 0 alone), so that what follows queues behind it.
void wait_for_first_batch(GatedRunner& runner) {
  while (runner.batches().empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

TEST(InferenceQueue, BatchesInOrderWithinTheTokenAndRequestBudgets) {
  QueueUnderTest test({/*max_batch_tokens=*/10, /*max_batch_requests=*/3, /*max_concurrent_requests=*/64});
  std::vector<std::future<JobResult>> results;
  results.push_back(test.queue.submit(job_of(0, 4)));
  wait_for_first_batch(test.runner);
  // Tokens 4, 4, 4 | 8 | 12 (over the budget alone: runs alone) | 1, 1, 1 (three requests) | 1
  for (const auto& [id, tokens] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 4}, {2, 4}, {3, 4}, {4, 8}, {5, 12}, {6, 1}, {7, 1}, {8, 1}, {9, 1}}) {
    results.push_back(test.queue.submit(job_of(id, tokens)));
  }
  test.runner.release();
  for (size_t i = 0; i < results.size(); ++i) {
    const JobResult result = results[i].get();
    ASSERT_EQ(result.error, "");
    ASSERT_EQ(result.embeddings.size(), 1U);
    EXPECT_EQ(result.embeddings[0][0], static_cast<float>(i)) << "job " << i << " got another job's result";
  }
  const std::vector<std::vector<int64_t>> expected = {{0}, {1, 2}, {3}, {4}, {5}, {6, 7, 8}, {9}};
  EXPECT_EQ(test.runner.batches(), expected);
}

TEST(InferenceQueue, AFailingInputFailsOnlyItsOwnRequest) {
  QueueUnderTest test({100, 0, 64});
  auto first = test.queue.submit(job_of(0, 1));
  wait_for_first_batch(test.runner);
  auto good = test.queue.submit(job_of(1, 1));
  auto bad = test.queue.submit(job_of(-2, 1));
  auto other = test.queue.submit(job_of(3, 1));
  test.runner.release();
  EXPECT_EQ(first.get().error, "");
  EXPECT_EQ(good.get().embeddings[0][0], 1.0F);
  EXPECT_EQ(bad.get().error, "[test] job -2");
  EXPECT_EQ(other.get().embeddings[0][0], 3.0F);
}

TEST(InferenceQueue, AdmitsUpToTheBoundAndDrainWaitsForTheAdmitted) {
  QueueUnderTest test({100, 0, 2});
  std::optional<AdmissionSlot> a = test.queue.admit();
  std::optional<AdmissionSlot> b = test.queue.admit();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(test.queue.admitted(), 2);
  EXPECT_FALSE(test.queue.admit());  // the third: refused at once
  a.reset();
  EXPECT_EQ(test.queue.admitted(), 1);
  std::optional<AdmissionSlot> c = test.queue.admit();
  EXPECT_TRUE(c);  // a slot given back is taken again
  auto drained = std::async(std::launch::async, [&] { test.queue.drain(); });
  EXPECT_EQ(drained.wait_for(std::chrono::milliseconds(50)), std::future_status::timeout);
  EXPECT_TRUE(test.queue.draining());
  EXPECT_FALSE(test.queue.admit());  // draining: nothing new
  b.reset();
  c.reset();
  drained.get();
  test.runner.release();
}

}  // namespace
}  // namespace graft::serve
