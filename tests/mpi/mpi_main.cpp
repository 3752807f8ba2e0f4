// GoogleTest main for tests run under mpiexec: MPI up, results printed by rank 0 only, and
// a test counts as failed when it failed on any rank (MPI_MAX of the ranks' results).
#include <gtest/gtest.h>
#include <mpi.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int result = RUN_ALL_TESTS();
  MPI_Allreduce(MPI_IN_PLACE, &result, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank == 0 && result != 0) std::fprintf(stderr, "a test failed on at least one rank\n");
  MPI_Finalize();
  return result;
}
