#' What this build of cellshard has, and which devices it sees
#'
#' @return Invisibly, a list: \code{backend} ("cuda" or "cpu"), \code{cuda}
#'   (logical), \code{cuda_version}, \code{cuda_arch}, \code{nccl}, \code{mpi_found},
#'   \code{hdf5_version}, \code{gpus} (one line per visible GPU), \code{all_reduce}
#'   (how per-gene results are summed across GPUs), \code{cpu_threads} (host
#'   threads of the CPU backend). Prints a summary.
#' @examples
#' cellshardInfo()
#' @export
cellshardInfo <- function() {
    info <- cs_build_info()
    info$backend <- if (length(info$gpus)) "cuda" else "cpu"
    cat("cellshard ", as.character(utils::packageVersion("cellshard")), "\n", sep = "")
    cat("  CUDA backend : ", if (info$cuda) paste0("built (CUDA ", info$cuda_version,
        ", sm_", gsub(" ", ",", info$cuda_arch), ")") else "not built (no CUDA found at install time)",
        "\n", sep = "")
    cat("  NCCL         : ", if (info$nccl) "yes" else "no", "\n", sep = "")
    if (info$cuda) cat("  across GPUs  : ", info$all_reduce, "\n", sep = "")
    cat("  MPI          : ", if (info$mpi_found) "found at install time" else "not found",
        "\n", sep = "")
    cat("  HDF5         : ", info$hdf5_version, "\n", sep = "")
    cat("  CPU threads  : ", info$cpu_threads, " (CELLSHARD_THREADS, else the CPUs this process may use)\n",
        sep = "")
    if (length(info$gpus)) {
        cat("  GPUs visible :\n")
        cat(paste0("    ", info$gpus, "\n"), sep = "")
    } else {
        cat("  GPUs visible : none; every function runs on the CPU backend\n")
    }
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
#'   host), \code{free}, \code{total} and \code{used}, in bytes.
#' @examples
#' deviceMemory("cpu")
#' @export
deviceMemory <- function(devices = NULL) {
    devs <- .resolveDevices(devices)
    m <- .deviceCall(cs_memory_info(devs))
    data.frame(device = devs, free = m[, 1], total = m[, 2], used = m[, 2] - m[, 1])
}
