# Turning the user's `devices` and `shards` arguments into a placement that the
# C++ side understands: one device number per shard, -1 meaning the CPU.

.CPU <- -1L

# The devices cellshardInit() chose for this process (in an MPI job, this
# rank's share of the node's GPUs); else all visible GPUs (0-based, as CUDA
# counts them), or the CPU backend (-1).
.defaultDevices <- function() {
    if (!is.null(.clusterEnv$devices)) return(.clusterEnv$devices)
    n <- cs_gpu_count()
    if (n > 0L) seq_len(n) - 1L else .CPU
}

# devices: NULL (all GPUs, else CPU), "cpu", or GPU numbers (0-based).
.resolveDevices <- function(devices) {
    if (is.null(devices)) return(.defaultDevices())
    if (is.character(devices)) {
        if (identical(tolower(devices), "cpu")) return(.CPU)
        if (identical(tolower(devices), "gpu")) {
            if (cs_gpu_count() == 0L)
                stop("devices = \"gpu\" but no GPU is visible; see cellshardInfo()", call. = FALSE)
            return(seq_len(cs_gpu_count()) - 1L)
        }
        stop("devices must be NULL, \"cpu\", \"gpu\" or GPU numbers such as 0:1", call. = FALSE)
    }
    if (!is.numeric(devices) || length(devices) == 0L || anyNA(devices) ||
        any(devices != round(devices)))
        stop("devices must be NULL, \"cpu\", \"gpu\" or GPU numbers such as 0:1", call. = FALSE)
    devices <- as.integer(devices)
    n <- cs_gpu_count()
    bad <- devices[devices != .CPU & (devices < 0L | devices >= n)]
    if (length(bad))
        stop(sprintf("GPU %s is not visible: this process sees %d GPU%s%s", bad[1], n,
                     if (n == 1L) "" else "s",
                     if (n == 0L) "; use devices = \"cpu\"" else sprintf(" (0..%d)", n - 1L)),
             call. = FALSE)
    devices
}

# shards: NULL (one per device), a positive count, or the number of cells of
# each shard (more than one number). Returns list(n, cells).
.resolveShards <- function(shards, devices) {
    if (is.null(shards)) return(list(n = length(devices), cells = numeric()))
    if (!is.numeric(shards) || length(shards) == 0L || anyNA(shards) || any(shards < 1) ||
        any(shards != round(shards)))
        stop("shards must be a positive whole number, or the number of cells of each shard",
             call. = FALSE)
    if (length(shards) == 1L) return(list(n = as.integer(shards), cells = numeric()))
    list(n = length(shards), cells = as.numeric(shards))
}
