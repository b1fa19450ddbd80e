# The memory-bound GPU steps of the seed pipeline, each C++ entry point alone on
# one GPU's share (issue 8, performance): cs_cell_qc (QC columns, with a
# mitochondrial subset), the filter's cs_subset, cs_cell_stats (size factors),
# cs_map_layer (normalize_total + log1p) and the HVG step's two cs_subset calls
# (the log layer, which builds the 5,000-gene index, then the counts, which
# reuse it). Each runs once to warm up, then `reps` times (wall seconds around
# the .Call, outputs freed between runs); printed: the median, the bytes the
# step must move (each input array it needs read once, each output written
# once) and that over the median, also as a share of a device-to-device copy
# measured in the same run (bench/d2d_copy.c, built here with R CMD SHLIB).
# The 5,000 genes are those of largest dispersion (var / mean of the log
# layer), sorted: close to cell_ranger's choice, without its binning.
#
#   Rscript bench/membound.R [n.cells] [reps] [out.csv]     (1430156 5 membound.csv)
#   MEMBOUND_STEPS=qc,filter,...  runs only those steps (the filter always runs)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
reps <- if (length(args) >= 2) as.integer(args[2]) else 5L
out_csv <- if (length(args) >= 3) args[3] else "membound.csv"
only <- strsplit(Sys.getenv("MEMBOUND_STEPS", ""), ",")[[1]]
wanted <- function(step) !length(only) || step %in% only
options(cellshard.verbose = FALSE)
ns <- asNamespace("cellshard")
clock <- function() proc.time()[["elapsed"]]

so <- file.path(tempdir(), "d2d_copy.so")
system2("R", c("CMD", "SHLIB", "-o", so, "bench/d2d_copy.c"), stdout = FALSE)
dyn.load(so)
copy_bw <- .Call("d2d_copy_bandwidth", 0L, 4 * 2^30)  # before cellshard's pool holds the memory
cat(sprintf("device-to-device copy: %.0f GB/s (read + write)\n", copy_bw / 1e9))

a <- simulateAtlas(n_cells, seed = 1, devices = 0L)
handle_of <- function(sce, assay = "counts")
    SummarizedExperiment::assay(sce, assay, withDimnames = FALSE)@seed@handle
h_atlas <- handle_of(a)
layout <- function(h) ns$cs_matrix_layout(h)
bits <- as.numeric(grepl("^MT-", rownames(a)))

rows <- list()
# Runs `run()` once to warm up and `reps` times; `drop(out)` frees an output
# but the last one's, which is returned.
bench <- function(step, bytes, run, drop = function(out) NULL) {
    times <- numeric()
    out <- NULL
    for (r in 0:reps) {
        if (!is.null(out)) drop(out)
        invisible(gc(verbose = FALSE))
        t0 <- clock()
        out <- run()
        dt <- clock() - t0
        if (r > 0) times <- c(times, dt)
    }
    med <- median(times)
    rows[[step]] <<- data.frame(step = step, median_s = med, min_s = min(times), max_s = max(times),
                                gbytes = bytes / 1e9, gb_per_s = bytes / med / 1e9,
                                copy_gb_per_s = copy_bw / 1e9, share_of_copy = bytes / med / copy_bw)
    cat(sprintf("%-22s median %.4f s (min %.4f, max %.4f)  %6.1f GB  %6.0f GB/s  %4.0f%% of copy\n",
                step, med, min(times), max(times), bytes / 1e9, bytes / med / 1e9,
                100 * bytes / med / copy_bw))
    out
}
free_handle <- function(h) ns$cs_free(h)

la <- layout(h_atlas)
n <- la$n_cells; nnz <- la$nnz
if (wanted("qc")) invisible(bench("cs_cell_qc", 8 * (n + 1) + 8 * nnz + 5 * 8 * n,  # + 5 columns' worth
                                  function() ns$cs_cell_qc(h_atlas, bits, 1L)))
qc <- ns$cs_cell_qc(h_atlas, bits, 1L)
n_genes_by <- qc$columns[[1]]
cells <- which(n_genes_by >= 200 & n_genes_by <= 10000)
genes <- which(ns$cs_gene_stats(h_atlas)$n_positive >= 10)
probe <- ns$cs_subset(h_atlas, cells, genes)
lf <- layout(probe); free_handle(probe)
h_f <- bench("cs_subset (filter)",
             8 * (length(cells) + 1) + 8 * nnz + 8 * (lf$n_cells + 1) + 8 * lf$nnz,
             function() ns$cs_subset(h_atlas, cells, genes), free_handle)
free_handle(h_atlas)  # the atlas is not needed any more: room for the layers below
n <- lf$n_cells; nnz <- lf$nnz
if (wanted("cell_stats")) invisible(bench("cs_cell_stats", 8 * (n + 1) + 4 * nnz + 16 * n,
                                          function() ns$cs_cell_stats(h_f)))
sums <- ns$cs_cell_stats(h_f)$sum
factor <- ns$cs_size_factors(as.numeric(sums), 1e4)
h_log <- bench("cs_map_layer (log1p)", 8 * (n + 1) + 8 * n + 8 * nnz,
               function() ns$cs_map_layer(h_f, factor, "log1p", 1, NULL, NULL, -Inf, Inf), free_handle)
if (wanted("hvg")) {
    mom <- ns$cs_column_moments(h_log, FALSE, NULL)
    mean <- mom$sum / n
    var <- (mom$sum_sq - n * mean^2) / (n - 1)
    disp <- var / pmax(mean, 1e-12)
    hvg <- sort(order(-disp)[seq_len(min(5000, length(disp) %/% 2))])
    probe <- ns$cs_subset(h_log, NULL, hvg)
    lh <- layout(probe); free_handle(probe)
    pair <- NULL
    log_bytes <- 8 * (n + 1) + 8 * nnz + 8 * (n + 1) + 8 * lh$nnz
    counts_bytes <- 8 * (n + 1) + 8 * nnz + 4 * lh$nnz
    times <- matrix(NA_real_, reps + 1, 2)
    for (r in 0:reps) {
        if (!is.null(pair)) lapply(pair, free_handle)
        invisible(gc(verbose = FALSE))
        t0 <- clock(); s1 <- ns$cs_subset(h_log, NULL, hvg)
        t1 <- clock(); s2 <- ns$cs_subset(h_f, NULL, hvg)
        t2 <- clock()
        pair <- list(s1, s2)
        times[r + 1, ] <- c(t1 - t0, t2 - t1)
    }
    for (j in 1:2) {
        tj <- times[-1, j]; med <- median(tj)
        bytes <- c(log_bytes, counts_bytes)[j]
        step <- c("cs_subset (HVG, log)", "cs_subset (HVG, counts)")[j]
        rows[[step]] <- data.frame(step = step, median_s = med, min_s = min(tj), max_s = max(tj),
                                   gbytes = bytes / 1e9, gb_per_s = bytes / med / 1e9,
                                   copy_gb_per_s = copy_bw / 1e9, share_of_copy = bytes / med / copy_bw)
        cat(sprintf("%-22s median %.4f s (min %.4f, max %.4f)  %6.1f GB  %6.0f GB/s  %4.0f%% of copy\n",
                    step, med, min(tj), max(tj), bytes / 1e9, bytes / med / 1e9, 100 * bytes / med / copy_bw))
    }
}
cat(sprintf("%s cells, %s non-zeros after the filter\n", format(lf$n_cells, big.mark = ","),
            format(lf$nnz, big.mark = ",")))
write.csv(do.call(rbind, rows), out_csv, row.names = FALSE)
