// emcomm sweep: the grid of `emcomm compare` run under MPI (docs/scale-out.md). Every rank
// parses and validates the same grid; rank 0 hands out run indices and collects how each run
// ended; the other ranks run them as child `emcomm train` processes (--jobs at a time per rank),
// each run writing its own directory under --out, which must be on a filesystem every rank
// sees. Rank 0 writes the same results.csv and summary.md as compare. A run that fails is
// reported and the sweep goes on. With one rank, sweep runs the grid like compare. Reruns
// keep finished runs and resume unfinished ones as compare does (grid.h, GridPlan).
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "core/errors.h"
#include "experiments/commands.h"
#include "experiments/grid.h"

#ifdef EMCOMM_WITH_MPI
#include <mpi.h>
#endif

namespace emcomm {

#ifndef EMCOMM_WITH_MPI

int sweep_command(const std::vector<std::string>& args) {
  if (grid_help("sweep", args)) return 0;
  parse_grid("sweep", args);  // bad arguments are still reported as such
  throw UserError(
      "this emcomm was built without MPI, so 'emcomm sweep' cannot run; use 'emcomm compare' (same arguments) "
      "on one machine, or install libopenmpi-dev and rebuild (cmake -DEMCOMM_WITH_MPI=ON)");
}

#else

namespace {

constexpr int kTagRequest = 1;  // worker -> rank 0: {finished run index or -1, its wait status, stop signal or 0}
constexpr int kTagAssign = 2;   // rank 0 -> worker: a run index, or -1 = this slot is done

// Rank 0: answers requests until every worker slot has been told to stop. Polls instead of
// blocking in MPI_Recv, which would spin a core that the runs need. Once it or a worker got
// SIGINT/SIGTERM, no further run is handed out.
void hand_out(Grid& g, int ranks) {
  GridSignals signals(false);
  const int64_t slots = int64_t(ranks - 1) * g.jobs;
  int64_t stopped = 0, next = 0;
  size_t done = 0;
  int stop_signal = 0;
  std::vector<bool> started(g.runs.size(), false);
  std::fprintf(stderr, "sweep: %zu runs over %d worker ranks x %lld at a time, into %s\n", g.runs.size(), ranks - 1,
               (long long)g.jobs, g.out.c_str());
  while (stopped < slots) {
    if (!stop_signal && GridSignals::signal()) {
      stop_signal = GridSignals::signal();
      std::fprintf(stderr, "sweep: %s: no further run starts; the workers stop their runs\n",
                   stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    }
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, kTagRequest, MPI_COMM_WORLD, &flag, &st);
    if (!flag) {
      signals.wait();
      continue;
    }
    long long msg[3];
    MPI_Recv(msg, 3, MPI_LONG_LONG, st.MPI_SOURCE, kTagRequest, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (!stop_signal && msg[2] != 0) stop_signal = int(msg[2]);
    if (msg[0] >= 0) {
      record_run_end(g, size_t(msg[0]), int(msg[1]));
      print_run_end(g, size_t(msg[0]), ++done, " (rank " + std::to_string(st.MPI_SOURCE) + ")");
    }
    long long assign = -1;
    while (!stop_signal && next < int64_t(g.runs.size())) {
      const size_t i = size_t(next++);
      started[i] = true;
      if (g.runs[i].plan != GridPlan::Reuse) {
        assign = (long long)i;
        break;
      }
      std::fprintf(stderr, "sweep: [%zu/%zu] %s reused (finished earlier, same config)\n", ++done, g.runs.size(),
                   g.runs[i].name.c_str());
    }
    if (assign < 0) ++stopped;
    MPI_Send(&assign, 1, MPI_LONG_LONG, st.MPI_SOURCE, kTagAssign, MPI_COMM_WORLD);
  }
  g.stop_signal = stop_signal;
  if (stop_signal) mark_not_run(g, started);
}

// A worker rank: g.jobs slots, each asking rank 0 for a run, running it, reporting its end
// together with the next request. SIGINT/SIGTERM are passed on to its running children.
void work(const Grid& g) {
  GridSignals signals(false);  // MPI's threads may take a signal: poll the flag
  const StableExe stable(g.out);
  const std::string exe = stable.path();
  std::map<pid_t, long long> running;
  auto request = [&](long long finished, int status) {
    long long msg[3] = {finished, status, GridSignals::signal()};
    MPI_Send(msg, 3, MPI_LONG_LONG, 0, kTagRequest, MPI_COMM_WORLD);
    long long assign = -1;
    MPI_Recv(&assign, 1, MPI_LONG_LONG, 0, kTagAssign, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (assign >= 0) {
      const GridRun& r = g.runs[size_t(assign)];
      running[spawn_logged(grid_train_argv(g, size_t(assign), exe), r.log, r.plan == GridPlan::Resume)] = assign;
    }
  };
  for (int64_t s = 0; s < g.jobs; ++s) request(-1, 0);
  int forwarded = 0;
  while (!running.empty()) {
    if (GridSignals::count() > forwarded) {
      for (const auto& [pid, i] : running) kill(pid, GridSignals::signal());
      forwarded = GridSignals::count();
    }
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno != EINTR && errno != ECHILD) throw std::runtime_error("waitpid failed");
    if (pid <= 0) {
      signals.wait();
      continue;
    }
    auto it = running.find(pid);
    if (it == running.end()) continue;
    const long long finished = it->second;
    running.erase(it);
    request(finished, status);
  }
}

}  // namespace

int sweep_command(const std::vector<std::string>& args) {
  if (grid_help("sweep", args)) return 0;
  // Every rank parses the same arguments before MPI starts: bad input exits 2 everywhere.
  Grid g = parse_grid("sweep", args);
  make_grid_out(g);  // every rank, before MPI starts: an unusable --out exits 2 everywhere
  MPI_Init(nullptr, nullptr);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  int code = 0;
  if (ranks == 1) {
    run_local_pool(g);
  } else if (rank == 0) {
    hand_out(g, ranks);
  } else {
    work(g);
  }
  if (rank == 0) {
    try {
      code = write_grid_results(g);
    } catch (const UserError& e) {  // the tables cannot be written: still end every rank
      std::fprintf(stderr, "emcomm: error: %s\n", e.what());
      code = 2;
    }
  }
  // Every rank exits with rank 0's code (mpirun reports the first non-zero one).
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  std::fflush(stdout);
  MPI_Finalize();
  return code;
}

#endif

}  // namespace emcomm
