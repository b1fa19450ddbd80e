# Where readH5AD's time goes (issue 8, item 4): each part of the call timed on
# its own, on an h5ad already in the page cache, against `cat file > /dev/null`
# of the same file in the same run:
#   header    cs_h5ad_info and the obsm listing
#   obs, var  the data frames (cell and gene names, columns) as R DataFrames
#   open      planning the shards from the row pointers and allocating them
#   matrix    the reader's steps: reading, checking and uploading every chunk
#   finish    waiting for the last uploads, handing over the matrix
#   assemble  the SingleCellExperiment around the shards
# and, within the matrix part, the reader's own phases (io/reader_phases.h):
# reading the file, checking the entries (0 when each piece is checked as it
# is read: "read" then holds both), canonical form, waiting for an upload
# slot, and the uploads (on the devices' threads, beside the rest).
# The matrix part is run on the chosen device and, for the reading and
# checking alone, into host memory ("cpu"), so that the upload's share shows.
#
#   Rscript bench/load_parts.R file.h5ad [device: 0 | cpu] [reps] [out.csv]
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
if (!length(args)) stop("usage: Rscript bench/load_parts.R file.h5ad [device] [reps] [out.csv]")
path <- normalizePath(args[1])
device <- if (length(args) >= 2 && args[2] != "cpu") as.integer(args[2]) else "cpu"
reps <- if (length(args) >= 3) as.integer(args[3]) else 2L
out_csv <- if (length(args) >= 4) args[4] else "load_parts.csv"
options(cellshard.verbose = FALSE)
ns <- asNamespace("cellshard")
clock <- function() proc.time()[["elapsed"]]
bytes <- file.size(path)

rows <- list()
record <- function(rep, part, target, seconds) {
    rows[[length(rows) + 1L]] <<- data.frame(rep = rep, part = part, target = target,
                                             seconds = round(seconds, 4), file_bytes = bytes)
    cat(sprintf("rep %d  %-9s %-4s %8.3f s  %6.2f GB/s of file\n", rep, part, target, seconds,
                bytes / seconds / 1e9))
}
timed <- function(expr) {
    t0 <- clock(); value <- force(expr); list(value = value, seconds = clock() - t0)
}

# The matrix alone into `target`, split into open / steps / finish.
read_matrix <- function(rep, target) {
    devs <- ns$.resolveDevices(if (identical(target, "cpu")) "cpu" else target)
    o <- timed(ns$.deviceCall(ns$cs_h5ad_open(path, devs, ns$.shardCount(NULL, devs), "X",
                                              part = 0L, parts = 1L)))
    r <- o$value
    reader <- r$reader
    on.exit(ns$cs_reader_close(reader))
    label <- if (identical(target, "cpu")) "cpu" else "gpu"
    record(rep, "open", label, o$seconds)
    s <- timed({done <- 0; while (done < r$chunks) done <- ns$cs_reader_step(reader, 1L); done})
    record(rep, "matrix", label, s$seconds)
    f <- timed(ns$.deviceCall(ns$cs_reader_finish(reader)))
    record(rep, "finish", label, f$seconds)
    phases <- ns$cs_last_reader_phases()
    for (p in names(phases)) record(rep, paste0("  ", p), label, phases[[p]])
    f$value
}

for (rep in seq_len(reps)) {
    t <- timed(system(paste("cat", shQuote(path), "> /dev/null")))
    record(rep, "cat", "", t$seconds)
    t <- timed({ns$.deviceCall(ns$cs_h5ad_info(path)); ns$.obsmToRead(path, TRUE)})
    record(rep, "header", "", t$seconds)
    obs <- timed(ns$.frameToDataFrame(ns$.deviceCall(ns$cs_h5ad_read_frame(path, "obs"))))
    record(rep, "obs", "", obs$seconds)
    var <- timed(ns$.frameToDataFrame(ns$.deviceCall(ns$cs_h5ad_read_frame(path, "var"))))
    record(rep, "var", "", var$seconds)
    host <- read_matrix(rep, "cpu")
    rm(host); invisible(gc())
    m <- read_matrix(rep, device)
    a <- timed(ns$.assembleSce(list(counts = m), genes = rownames(var$value),
                               cells = rownames(obs$value), rowData = var$value,
                               colData = obs$value, source = list(format = "h5ad", path = path)))
    record(rep, "assemble", "", a$seconds)
    releaseDevice(a$value); rm(a, m, obs, var); invisible(gc())
    t <- timed({x <- readH5AD(path, devices = device)})
    record(rep, "readH5AD", "", t$seconds)
    releaseDevice(x); rm(x); invisible(gc())
}
tab <- do.call(rbind, rows)
write.csv(tab, out_csv, row.names = FALSE)
cat("written to", out_csv, "\n")
