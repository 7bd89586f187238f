// The CUDA backend's launch geometry, host arithmetic tested without a GPU: every count gets at least one block,
// enough blocks to give each element a thread up to the cap, and never more than the cap (the kernels' grid-stride
// loops cover the rest).
#include "kernels/cuda/launch_geometry.h"

#include <gtest/gtest.h>

namespace graft::kernels::gpu {
namespace {

TEST(LaunchGeometry, ElementwiseLaunchesCoverTheCountUpToTheCap) {
  EXPECT_EQ(elementwise_launch(0).blocks, 1U);
  EXPECT_EQ(elementwise_launch(1).blocks, 1U);
  EXPECT_EQ(elementwise_launch(256).blocks, 1U);
  EXPECT_EQ(elementwise_launch(257).blocks, 2U);
  EXPECT_EQ(elementwise_launch(1000, 128).blocks, 8U);
  EXPECT_EQ(elementwise_launch(1000, 128).threads, 128U);
  EXPECT_EQ(elementwise_launch(int64_t{1} << 40).blocks, static_cast<unsigned>(kMaxBlocks));
}

TEST(LaunchGeometry, RowLaunchesGiveEachRowABlockUpToTheCap) {
  EXPECT_EQ(row_launch(0).blocks, 1U);
  EXPECT_EQ(row_launch(4096).blocks, 4096U);
  EXPECT_EQ(row_launch(int64_t{1} << 33).blocks, static_cast<unsigned>(kMaxBlocks));
  EXPECT_EQ(row_launch(7).threads, kThreads);
}

}  // namespace
}  // namespace graft::kernels::gpu
