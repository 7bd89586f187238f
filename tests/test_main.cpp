// Every test binary's main: GoogleTest's, naming the machine before the first test, so that a failure report
// says which CPU, instruction sets and kernels it ran with.
#include <gtest/gtest.h>

#include <cstdio>

#include "graft/kernels/kernels.h"
#include "test_support.h"

namespace {

class MachineReport : public testing::Environment {
 public:
  void SetUp() override {
    std::printf("[ machine  ] %s; models on %s\n", graft::kernels::describe_backend().c_str(),
                graft::device_name(graft::test::device()).c_str());
  }
};

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  testing::AddGlobalTestEnvironment(new MachineReport);  // GoogleTest owns and deletes it
  return RUN_ALL_TESTS();
}
