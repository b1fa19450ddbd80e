# Load benchmark (issue 8, item 4): readH5AD of the synthetic atlas from local
# disk into device shards, against `cat file > /dev/null` on the same file in
# the same run (uncompressed h5ad), and a gzip-compressed h5ad of a smaller
# share read the same way (its rate is set against the CPU cores by
# bench/inflate_rate.py and bench/issue8_report.py).
#
# Writes both files with writeH5AD (the uncompressed one is also the peer's
# input in bench/issue8-run.sh), then, for each file, alternates `cat` and
# readH5AD twice: the first `cat` reads whatever the page cache does not hold
# (the file was just written; the script asks the kernel to drop its caches
# first and says whether it could), the later reads come from the same cache
# state for both. Each readH5AD is the whole call (matrix, obs and var names,
# SingleCellExperiment), then its device data is released.
#
#   Rscript bench/load.R [n.cells] [gzip.cells] [dir] [out.csv] [0 | cpu]
#   (defaults: 1430156, 100000, tempdir(), load.csv, GPU 0)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
n_gzip <- if (length(args) >= 2) as.numeric(args[2]) else 1e5
dir <- if (length(args) >= 3) args[3] else tempdir()
out_csv <- if (length(args) >= 4) args[4] else "load.csv"
device <- if (length(args) >= 5 && args[5] == "cpu") "cpu" else 0L
options(cellshard.verbose = FALSE)
clock <- function() proc.time()[["elapsed"]]
dir.create(dir, showWarnings = FALSE, recursive = TRUE)
plain <- file.path(dir, "atlas.h5ad")
packed <- file.path(dir, "atlas_gzip.h5ad")

rows <- list()
record <- function(file, what, rep, seconds, extra = list()) {
    rows[[length(rows) + 1L]] <<- data.frame(file = basename(file), what = what, rep = rep,
                                             seconds = round(seconds, 4),
                                             file_bytes = file.size(file), extra)
    cat(sprintf("%-18s %-10s %d %8.3f s  %7.2f GB/s of file\n", basename(file), what, rep,
                seconds, file.size(file) / seconds / 1e9))
}

atlas <- simulateAtlas(n_cells, seed = 1, devices = device)
nnz <- sum(as.numeric(deviceLayout(counts(atlas))$nnz))
t0 <- clock(); writeH5AD(atlas, plain, overwrite = TRUE); t_plain <- clock() - t0
gz <- atlas[, seq_len(min(n_gzip, ncol(atlas)))]
nnz_gz <- sum(as.numeric(deviceLayout(counts(gz))$nnz))
t0 <- clock(); writeH5AD(gz, packed, overwrite = TRUE, compression = 4L); t_packed <- clock() - t0
releaseDevice(gz); releaseDevice(atlas); rm(gz, atlas); invisible(gc())

# The matrix's bytes as stored (float32 values, int32 indices, int64 row pointers).
matrix_bytes <- function(cells, entries) entries * 8 + (cells + 1) * 8
invisible(utils::capture.output(build <- cellshardInfo()))
info <- function(cells, entries, level) list(cells = cells, nnz = entries,
    matrix_bytes = matrix_bytes(cells, entries), gzip_level = level,
    cores = parallel::detectCores(), cellshard_threads = build$cpu_threads)
plain_info <- info(n_cells, nnz, 0L)
gz_info <- info(min(n_gzip, n_cells), nnz_gz, 4L)
record(plain, "write", 1L, t_plain, plain_info)
record(packed, "write", 1L, t_packed, gz_info)

dropped <- suppressWarnings(system("sync; echo 3 > /proc/sys/vm/drop_caches", ignore.stderr = TRUE)) == 0
cat("page cache dropped before the first read:", dropped, "\n")
read_once <- function(file, rep, inf) {
    t0 <- clock(); status <- system(paste("cat", shQuote(file), "> /dev/null")); t_cat <- clock() - t0
    if (status != 0) stop("cat failed on ", file)
    record(file, "cat", rep, t_cat, inf)
    t0 <- clock(); x <- readH5AD(file, devices = device); t_read <- clock() - t0
    stopifnot(ncol(x) == inf$cells, sum(as.numeric(deviceLayout(counts(x))$nnz)) == inf$nnz)
    record(file, "readH5AD", rep, t_read, inf)
    releaseDevice(x)
    invisible(gc())
}
for (rep in 1:2) read_once(plain, rep, plain_info)
for (rep in 1:2) read_once(packed, rep, gz_info)

tab <- do.call(rbind, rows)
tab$caches_dropped <- dropped
write.csv(tab, out_csv, row.names = FALSE)
cat("written to", out_csv, "\n")
