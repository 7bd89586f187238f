#pragma once
// MPI's world communicator, initialised on first use and finalised at exit; null when graft was built without
// MPI (src/distributed/mpi/ is compiled only when CMake finds it).
#include "graft/distributed/communicator.h"

namespace graft::distributed {

Communicator* mpi_world();

}  // namespace graft::distributed
