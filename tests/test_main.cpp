// GoogleTest main for unit tests: MPI initialised as a world of one process, as the
// library expects (DESIGN.md: "Unit tests run as one process with MPI initialised").
#include <gtest/gtest.h>
#include <mpi.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  const int result = RUN_ALL_TESTS();
  MPI_Finalize();
  return result;
}
