// The MPI implementation of Communicator (engine/comm.h), built only where CMake finds MPI.
#pragma once
#include "engine/comm.h"

namespace elr {

// MPI_Init (threads: only the main thread communicates) and the communicator of MPI_COMM_WORLD.
Communicator* join_mpi_world();
// MPI_Finalize.
void leave_mpi_world();

}  // namespace elr
