#' Run one script on many processes with MPI
#'
#' When a job outgrows one machine, start the same R script on several with
#' MPI (\code{mpirun -np 4 Rscript job.R}, or \code{srun Rscript job.R} under
#' Slurm) and call \code{cellshardInit(mpi = TRUE)} near its top. Each process
#' (rank) then takes its GPUs, and every reader and \code{simulateAtlas} gives
#' it only its own contiguous share of the cells: no rank reads the whole
#' matrix. The verbs run as they do in one process and give the same result:
#' per-cell results (\code{colData}, the PCA embedding) stay with the rank that
#' holds the cells; per-gene results (\code{rowData}, the highly variable
#' genes, the PCA basis and variances) are the same on every rank, summed over
#' all ranks (NCCL between the ranks' GPUs, MPI on the CPU backend). Gathering
#' per-cell results on one rank is explicit: \code{\link{gatherReducedDim}},
#' \code{\link{gatherCells}}.
#'
#' Started without MPI (a plain \code{Rscript job.R}), \code{cellshardInit}
#' says so and the script runs as a single process, unchanged.
#'
#' @section GPUs:
#' With \code{devices = NULL} the ranks of a node share out its GPUs (told
#' apart by PCI bus id): one rank per node takes every GPU; as many ranks as
#' GPUs take one each; when the launcher gives each rank its own GPU (Slurm's
#' \code{--gpus-per-task=1}) each takes that one. A node with fewer GPUs than
#' ranks is an error. Without GPUs the ranks run on the CPU backend and
#' exchange through MPI.
#'
#' @section Failures:
#' Every rank must run the same verbs in the same order: the verbs, the
#' per-gene summaries of a device matrix (\code{rowSums}, \code{rowMeans}) and
#' the gathers are collective, so none of them may sit inside
#' \code{if (rank == 0)}.
#' A rank that stops with an error ends the whole job at once (MPI_Abort, by
#' default in non-interactive sessions: \code{abort.on.error}); a rank that
#' dies is noticed by \code{mpirun} (or Slurm), which stops the others. As a
#' last resort every collective has a watchdog: a rank that waits longer than
#' \code{timeout} seconds for the others stops with an error naming the step
#' (and so ends the job). The timeout must exceed the longest time one rank
#' may work while the others wait, such as the eigendecomposition of the PCA,
#' which rank 0 does alone (a second or two on a GPU; about 40 s for 5,000
#' genes on the CPU with the reference BLAS).
#'
#' @param mpi Start MPI (\code{TRUE}) or not.
#' @param devices This rank's devices: \code{NULL} (share out the node's GPUs,
#'   or the CPU when there are none), \code{"cpu"}, or 0-based GPU numbers as
#'   this process sees them. They become the default \code{devices} of the
#'   readers, \code{toDevice} and \code{simulateAtlas}.
#' @param timeout Seconds a rank waits for the others in a collective before
#'   it stops with an error.
#' @param abort.on.error End every rank of the job when an R error reaches the
#'   top level on any rank (through \code{options(error = )}, only when no
#'   error handler is set). Without it, the others stop only at their timeout.
#' @return Invisibly, \code{cellshardCluster()}.
#' @examples
#' # In a script started with: mpirun -np 2 Rscript job.R
#' cl <- cellshardInit(mpi = TRUE, devices = "cpu")
#' sce <- simulateAtlas(2000, n.genes = 2000, seed = 1)   # each rank: its share
#' sce <- runSeedPipeline(sce, n.top = 200, ncomponents = 10)
#' pcs <- gatherReducedDim(sce, "PCA")                    # all cells, on rank 0
#' if (cl$rank == 0) print(dim(pcs))
#' @export
cellshardInit <- function(mpi = TRUE, devices = NULL, timeout = 300,
                          abort.on.error = !interactive()) {
    if (!is.numeric(timeout) || length(timeout) != 1L || is.na(timeout) || timeout <= 0)
        stop("cellshardInit(): timeout must be a positive number of seconds", call. = FALSE)
    if (!isTRUE(mpi)) {
        .clusterEnv$devices <- if (is.null(devices)) NULL else .resolveDevices(devices)
        return(invisible(cellshardCluster()))
    }
    launched <- .launcherRanks()
    if (is.na(launched)) {
        message("cellshardInit(): not started by mpirun or srun, so this runs as a single process")
        .clusterEnv$devices <- if (is.null(devices)) NULL else .resolveDevices(devices)
        return(invisible(cellshardCluster()))
    }
    if (!cs_mpi_built()) {
        if (launched > 1L)
            stop(sprintf(paste0("cellshardInit(): started as one of %d MPI processes, but this build ",
                                "of cellshard has no MPI, so each would compute alone. Install MPI ",
                                "(Debian: apt-get install libopenmpi-dev) and reinstall cellshard"),
                         launched), call. = FALSE)
        warning("cellshardInit(): this build of cellshard has no MPI; running as a single process",
                call. = FALSE)
        return(invisible(cellshardCluster()))
    }
    st <- .deviceCall(cs_cluster_start(timeout))
    if (!isTRUE(.clusterEnv$started)) {
        .clusterEnv$started <- TRUE
        # At a clean exit MPI_Finalize; finalizers run before R's own exit.
        reg.finalizer(.clusterEnv, function(e) cs_cluster_finish(), onexit = TRUE)
        if (isTRUE(abort.on.error) && is.null(getOption("error")))
            options(error = .abortJobOnError)
    }
    if (is.null(.clusterEnv$devices)) {
        devs <- .clusterDevices(devices)
        .deviceCall(cs_cluster_open_nccl(if (identical(devs, .CPU)) -1L else devs[1]))
        .clusterEnv$devices <- devs
    }
    invisible(cellshardCluster())
}

#' This process's place in an MPI job
#'
#' @return A list: \code{mpi} (whether MPI runs), \code{rank} (0-based),
#'   \code{size} (number of ranks), \code{local.rank} and \code{local.size}
#'   (among the ranks of this node), \code{host}, \code{devices} (this rank's
#'   devices, -1 for the CPU), \code{nccl} (whether the ranks' GPUs sum
#'   through NCCL) and \code{timeout} (seconds). Without MPI: rank 0 of 1.
#' @examples
#' cellshardCluster()$size
#' @export
cellshardCluster <- function() {
    st <- cs_cluster_state()
    list(mpi = st$active, rank = st$rank, size = st$size, local.rank = st$local_rank,
         local.size = st$local_size, host = if (nzchar(st$host)) st$host else Sys.info()[["nodename"]],
         devices = .clusterEnv$devices %||% .defaultDevices(), nccl = st$nccl, timeout = st$timeout)
}

# Session state on the R side: the rank's devices and whether the exit hook
# is registered (MPI's own state lives in C++, core/cluster.h).
.clusterEnv <- new.env(parent = emptyenv())

# The number of ranks an MPI launcher announces in the environment, or NA
# when this process was not started by one (Open MPI, MPICH / Hydra, PMI and
# PMIx as Slurm's srun sets them).
.launcherRanks <- function() {
    for (v in c("OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS",
                "MV2_COMM_WORLD_SIZE")) {
        n <- suppressWarnings(as.integer(Sys.getenv(v, "")))
        if (!is.na(n)) return(n)
    }
    if (nzchar(Sys.getenv("PMIX_RANK")) || nzchar(Sys.getenv("PMI_RANK"))) {
        n <- suppressWarnings(as.integer(Sys.getenv("SLURM_NTASKS", "1")))
        return(if (is.na(n)) 1L else n)
    }
    NA_integer_
}

# This rank's devices: the user's choice, or a share of the node's GPUs.
.clusterDevices <- function(devices) {
    if (!is.null(devices)) return(.resolveDevices(devices))
    n <- cs_gpu_count()
    mine <- .deviceCall(cs_cluster_assign_gpus(n))
    if (length(mine)) mine else .CPU
}

# The error handler that cellshardInit() installs: R has printed the error;
# end every rank now rather than leave them waiting for this one.
.abortJobOnError <- function() {
    st <- cs_cluster_state()
    if (isTRUE(st$active)) {
        message(sprintf("cellshard: MPI rank %d of %d stops the whole job after the error above",
                        st$rank, st$size))
        cs_cluster_abort(1L)
    }
}

# --- collectives for the verbs ------------------------------------------------
# Each is the identity without MPI. Every rank must call them in the same
# order; `what` names the step in timeout messages.

.clusterActive <- function() isTRUE(cs_cluster_state()$active)

# Element-wise sums over the ranks.
.clusterSum <- function(x, what) {
    if (!.clusterActive()) return(x)
    .deviceCall(cs_cluster_sum(as.numeric(x), what))
}

# The number of cells of a genes x cells object over all ranks.
.nCells <- function(x) .clusterSum(ncol(x), "counting the cells")

# Any R object of every rank, as a list in rank order: on `root` only
# (NULL elsewhere) for .clusterGather, on every rank for .clusterAllgather.
.clusterGather <- function(x, what, root = 0L) {
    if (!.clusterActive()) return(list(x))
    parts <- .deviceCall(cs_cluster_gather(serialize(x, NULL), as.integer(root), what))
    if (is.null(parts)) NULL else lapply(parts, unserialize)
}

.clusterAllgather <- function(x, what) {
    if (!.clusterActive()) return(list(x))
    lapply(.deviceCall(cs_cluster_allgather(serialize(x, NULL), what)), unserialize)
}

# `root`'s x on every rank.
.clusterBroadcast <- function(x, what, root = 0L) {
    if (!.clusterActive()) return(x)
    mine <- if (cs_cluster_state()$rank == root) serialize(x, NULL) else raw(0)
    unserialize(.deviceCall(cs_cluster_broadcast(mine, as.integer(root), what)))
}

# The median of numbers spread over the ranks: the same value as the median
# of all of them in one process (rank 0 takes it and shares it).
.clusterMedian <- function(x, what) {
    if (!.clusterActive()) return(stats::median(x))
    parts <- .clusterGather(x, what)
    .clusterBroadcast(if (is.null(parts)) NULL else stats::median(unlist(parts)), what)
}

# This rank's share of n cells split evenly (as the C++ even_placement):
# list(first, count), first 0-based.
.evenShare <- function(n, rank, size) {
    lo <- floor(n * rank / size)
    list(first = lo, count = floor(n * (rank + 1) / size) - lo)
}
