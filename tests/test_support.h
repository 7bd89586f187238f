#pragma once
// Paths and comparisons shared by the tests.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "graft/core/tensor.h"
#include "graft/models/model.h"

namespace graft::test {

// The message of the graft::Error `action` throws, or "(no error)"; other exceptions propagate.
std::string error_of(const std::function<void()>& action);

std::string fixtures_dir();  // tests/fixtures in the repo
std::string shared_dir();    // ../shared next to the repo (may be absent)
std::string golden_dir();    // ../shared/golden, or $GRAFT_GOLDEN_DIR
bool have_golden();
std::string cli_path();  // the built graft executable
// Where the device-aware tests run their models: $GRAFT_TEST_DEVICE (cpu, checked, ...), the CPU by default.
// The test suite runs the parity, training and pipeline tests once more on the checked device.
Device device();
// Load options that put the weights on device().
LoadOptions on_test_device();
// The same for a graft command: " --device NAME", or nothing on the CPU.
std::string device_option();

// F32 values drawn from N(0, std^2) by a Generator seeded with `seed`.
Tensor random_tensor(Shape shape, uint64_t seed, float std = 1.0F);

// Largest |a - b| over all elements; shapes must match.
double max_abs_diff(const Tensor& actual, const Tensor& expected);
double max_abs(const Tensor& tensor);
// Rows `ids` (I64) of a [V, D] tensor, for goldens that store vocabulary-sized tensors by used rows.
Tensor gather_rows(const Tensor& table, const Tensor& ids);

// Runs a shell command, returning its exit code and (stdout, stderr merged) output.
struct CommandResult {
  int exit_code;
  std::string output;
};
CommandResult run_command(const std::string& command);

// The prefix that starts a command on two MPI ranks of one thread each, or "" where the tests run none: no mpirun
// (Open MPI: scripts/install-deps.sh), or a sanitized build (Open MPI's exit-time allocations count as leaks).
// Inline: GRAFT_SANITIZED_BUILD is each test's.
inline std::string mpirun_two_ranks() {
#ifdef GRAFT_SANITIZED_BUILD
  return "";
#else
  if (run_command("command -v mpirun").exit_code != 0) return "";
  return "OMP_NUM_THREADS=1 mpirun -np 2 --oversubscribe --allow-run-as-root ";
#endif
}

// The graft command `arguments` (less the executable and --output) run as one process of one thread into the folder
// `alone`, then on the two ranks `mpirun` starts into `ranks`: both succeed, the second says it is data-parallel, and
// only its rank 0 reports writing the folder. Returns the two ranks' output.
std::string run_alone_and_on_two_ranks(const std::string& mpirun, const std::string& arguments,
                                       const std::string& alone, const std::string& ranks);

}  // namespace graft::test

// Skips the test with a message saying what is missing, when ../shared/golden is not there.
#define GRAFT_REQUIRE_GOLDEN()                                                          \
  do {                                                                                  \
    if (!graft::test::have_golden())                                                    \
      GTEST_SKIP() << "Hugging Face goldens not found at " << graft::test::golden_dir() \
                   << " (clone graft next to shared/ to run the parity tests)";         \
  } while (0)

#define EXPECT_TENSOR_NEAR(actual, expected, tolerance)                      \
  do {                                                                       \
    ASSERT_EQ((actual).shape(), (expected).shape());                         \
    EXPECT_LE(graft::test::max_abs_diff((actual), (expected)), (tolerance)); \
  } while (0)
