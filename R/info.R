#' What this build of cellshard has, and which devices it sees
#'
#' Prints the summary that \code{configure} printed when the package was
#' installed: for HDF5, CUDA, NCCL and MPI, what was found or, when something
#' is missing, which package to install for it (then reinstall cellshard);
#' then how per-gene results are summed across GPUs, the state of the MPI job
#' and the GPUs visible now.
#'
#' @return Invisibly, a list: \code{backend} ("cuda" when a GPU is visible,
#'   else "cpu"), \code{cuda} (logical: the CUDA backend is built),
#'   \code{cuda_version}, \code{cuda_arch}, \code{nccl}, \code{mpi_found}
#'   (whether the build can run under MPI), \code{mpi_version},
#'   \code{hdf5_version} (the library loaded now), \code{gpus} (one line per
#'   visible GPU), \code{all_reduce} (how per-gene results are summed across
#'   GPUs), \code{cpu_threads} (host threads of the CPU backend) and
#'   \code{notes} (configure's line for each component, named \code{HDF5},
#'   \code{CUDA}, \code{NCCL}, \code{MPI}).
#' @examples
#' cellshardInfo()
#' @export
cellshardInfo <- function() {
    info <- cs_build_info()
    info$backend <- if (length(info$gpus)) "cuda" else "cpu"
    found <- c(HDF5 = TRUE, CUDA = info$cuda, NCCL = info$nccl, MPI = info$mpi_found)
    cat("cellshard ", as.character(utils::packageVersion("cellshard")), ", built ",
        if (info$cuda) "with the CUDA and CPU backends" else "with the CPU backend only", "\n",
        sep = "")
    cat(sprintf("  %-5s %-4s %s\n", names(found), ifelse(found, "yes", "no"),
                info$notes[names(found)]), sep = "")
    if (info$cuda) cat("  across GPUs: ", info$all_reduce, "\n", sep = "")
    if (info$mpi_found) {
        cl <- cellshardCluster()
        cat("  MPI job:    ", if (cl$mpi)
            sprintf("this process is rank %d of %d%s", cl$rank, cl$size,
                    if (cl$nccl) ", GPUs of the ranks sum through NCCL" else "") else
            "not started (see cellshardInit)", "\n", sep = "")
    }
    cat("  CPU threads:", info$cpu_threads, "(CELLSHARD_THREADS, else the CPUs this process may use)\n")
    gpus <- if (length(info$gpus)) paste0("\n", paste0("        ", info$gpus, collapse = "\n")) else
        if (info$cuda) " none visible: every function runs on the CPU backend" else
            " not usable by this build: every function runs on the CPU backend"
    cat("  GPUs ", gpus, "\n", sep = "")
    invisible(info)
}

.onAttach <- function(libname, pkgname) {
    if (cs_gpu_count() == 0L) {
        why <- if (isTRUE(cs_build_info()$cuda)) "no GPU is visible" else
            "this build has no CUDA backend"
        packageStartupMessage("cellshard: ", why, ", so data stays in host memory and every ",
                              "function runs on the CPU backend. See cellshardInfo().")
    }
}

#' Free and total memory of the devices
#'
#' @param devices As in \code{\link{toDevice}}: \code{NULL} for every visible GPU
#'   (or the host when there is none), \code{"cpu"} for host memory, or GPU numbers.
#' @return A data frame with one row per device: \code{device} (-1 for the
#'   host), \code{free}, \code{total} and \code{used}, in bytes; then
#'   \code{budget}, the memory budget of cellshard's data on the device
#'   (\link{out-of-core}), \code{held}, what cellshard's data holds there now,
#'   and \code{pinned}, what it holds in pinned host memory (shards that
#'   stream; the same on every row). On a GPU,
#'   \code{free} counts the memory cellshard freed and keeps for its next
#'   allocations (a stream-ordered pool, so that freeing tens of GB is
#'   instant); \code{\link{releaseDevice}} hands that memory back to the driver
#'   for other programs.
#' @examples
#' deviceMemory("cpu")
#' @export
deviceMemory <- function(devices = NULL) {
    devs <- .resolveDevices(devices)
    m <- .deviceCall(cs_memory_info(devs))
    b <- .deviceCall(cs_budget_info(devs))
    data.frame(device = devs, free = m[, 1], total = m[, 2], used = m[, 2] - m[, 1],
               budget = b$budget, held = b$held, pinned = rep(b$pinned, length(devs)))
}
