# GPU step benchmark (issue 8, item 2): the seed sequence verb by verb on one
# GPU's share of the reference workload, drawn on the device
# (simulateAtlas(n, seed = 1)). Each step runs once to warm up and then `reps`
# times on the same input (its output freed between runs, the last one kept
# as the next step's input); the median, min and max are written with, for
# each step, the bytes it must at least move and the flops it must at least
# do (the floors; see `floors` below), its sizes, and the peak device memory
# of cellshard's memory pool during the step (bench/pool_peak.c, built by the
# driver; NA without it). bench/issue8_report.py turns bytes into a floor time
# with the copy bandwidth measured in the same run.
#
#   Rscript bench/gpu_steps.R [n.cells] [reps] [out.csv] [pool_peak.so] [0 | cpu]
#   (defaults: 1430156, 5, gpu_steps.csv, bench/pool_peak.so, GPU 0; "cpu" runs
#   the same steps on the CPU backend, to check the script without a GPU;
#   ISSUE8_BUDGET sets a device memory budget, see below)
suppressPackageStartupMessages({
    library(cellshard)
    library(SummarizedExperiment)
})
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
reps <- if (length(args) >= 2) as.integer(args[2]) else 5L
out_csv <- if (length(args) >= 3) args[3] else "gpu_steps.csv"
peak_so <- if (length(args) >= 4) args[4] else file.path("bench", "pool_peak.so")
device <- if (length(args) >= 5 && args[5] == "cpu") "cpu" else 0L
options(cellshard.verbose = FALSE)
# A device memory budget, e.g. ISSUE8_BUDGET=36.8GB (1.6 times the share's 23 GB
# of counts, issue 8's peak-memory target): results with no room under it are
# then computed where they are read instead of stored (?"out-of-core"), and the
# peaks and times below show what that costs. The atlas is then drawn in 16
# shards (ISSUE8_SHARDS): only a shard small enough to pass through a
# streaming pass's buffers (a sixteenth of the budget, twice over) can be
# computed rather than stored; one shard of the whole share always stays.
budgeted <- nzchar(Sys.getenv("ISSUE8_BUDGET"))
if (budgeted) options(cellshard.device.memory = Sys.getenv("ISSUE8_BUDGET"))
atlas_shards <- if (nzchar(Sys.getenv("ISSUE8_SHARDS"))) as.integer(Sys.getenv("ISSUE8_SHARDS")) else
    if (budgeted) 16L else NULL
ns <- asNamespace("cellshard")
clock <- function() proc.time()[["elapsed"]]

have_peak <- is.integer(device) && file.exists(peak_so) && !inherits(try(dyn.load(peak_so), silent = TRUE), "try-error")
peak_reset <- function() if (have_peak) .Call("pool_peak_reset", device, PACKAGE = "pool_peak") else NA_real_
peak_read <- function() if (have_peak) .Call("pool_peak_read", device, PACKAGE = "pool_peak") else rep(NA_real_, 4)
if (!have_peak && is.integer(device)) message("no ", peak_so, ": peak device memory is not measured")

nnz_of <- function(sce, a = "counts") sum(as.numeric(deviceLayout(assay(sce, a, withDimnames = FALSE))$nnz))
handles <- function(sce) lapply(assayNames(sce), function(a) assay(sce, a, withDimnames = FALSE)@seed@handle)
# Frees the device data of the assays of `out` that `input` does not hold.
free_new <- function(out, input) {
    old <- handles(input)
    for (a in assayNames(out)) {
        m <- assay(out, a, withDimnames = FALSE)
        if (ns$.isDeviceMatrix(m) && !any(vapply(old, identical, NA, m@seed@handle))) ns$.freeDevice(m)
    }
}

results <- list()
# Runs `run(input)` once to warm up, then `reps` times; returns the last
# output. `parts(out)`, if given, is kept per timed run (PCA's phases).
# R's garbage collections inside each run are timed too (gc.time): the steps
# build per-cell columns in R, and a collection of R's heap can land in any of them.
invisible(gc.time(TRUE))  # on; it would print its current totals
bench_step <- function(step, input, run, parts = NULL) {
    times <- peaks <- extras <- gcs <- numeric()
    kept <- list()
    for (r in 0:reps) {
        # The harness's own garbage (earlier runs' objects) is collected before
        # the clock starts: a full collection here costs 0.6-0.7 s and would
        # otherwise land in whichever step next allocates (2 of 3 filter runs,
        # 2026-11-26); collections a step itself sets off are still timed.
        invisible(gc())
        before <- peak_reset()
        gc0 <- gc.time()[3]
        t0 <- clock()
        out <- run(input)
        dt <- clock() - t0
        gc1 <- gc.time()[3]
        pk <- peak_read()
        if (r > 0) {
            times <- c(times, dt); peaks <- c(peaks, pk[2]); extras <- c(extras, pk[2] - before)
            gcs <- c(gcs, gc1 - gc0)
            if (!is.null(parts)) kept[[r]] <- parts(out)
        }
        if (r < reps) free_new(out, input)
    }
    results[[step]] <<- list(times = times, peak = max(peaks), extra = max(extras), parts = kept,
                             gc = gcs)
    cat(sprintf("%-18s median %8.4f s  (runs: %s; R gc in them: %s)  peak %.2f GB (+%.2f GB)\n",
                step, median(times), paste(sprintf("%.3f", times), collapse = " "),
                paste(sprintf("%.3f", gcs), collapse = " "), max(peaks) / 1e9, max(extras) / 1e9))
    out
}

cellshardInfo()
t0 <- clock()
atlas <- simulateAtlas(n_cells, seed = 1, devices = device, shards = atlas_shards)
syn <- metadata(atlas)$synthetic
cat(sprintf("synthetic atlas: %d cells x %d genes, nnz %.6g, mean detected genes %.1f (%.2f s)\n\n",
            syn$cells, syn$genes, syn$nnz, syn$mean.detected, clock() - t0))
sizes <- list(atlas = c(cells = ncol(atlas), genes = nrow(atlas), nnz = nnz_of(atlas)))
mt <- grepl("^(MT|mt)-", rownames(atlas))

# The steps of runSeedPipeline with the notebook's parameters, HVG statistics
# and the HVG subset apart, PCA split into fit and projection afterwards.
qc <- bench_step("qc", atlas, function(x) qcMetrics(x, subsets = list(mt = mt)))
filt <- bench_step("filter", qc, function(x)
    x[rowData(x)$n_cells_by_counts >= 10, x$n_genes_by_counts >= 200 & x$n_genes_by_counts <= 10000])
sizes$filtered <- c(cells = ncol(filt), genes = nrow(filt), nnz = nnz_of(filt))
ns$.freeDevice(counts(atlas))  # qc shares it; neither is used again
rm(atlas, qc)
norm <- bench_step("normalize_log1p", filt, function(x) normalizeTotal(x, target.sum = 1e4, log = TRUE))
hvg <- bench_step("hvg", norm, function(x)
    highlyVariableGenes(x, n.top = 5000, flavor = "cell_ranger", subset = FALSE))
sub <- bench_step("hvg_subset", hvg, function(x) x[rowData(x)$highly_variable, ])
sizes$hvg <- c(cells = ncol(sub), genes = nrow(sub), nnz = nnz_of(sub))
ns$.freeDevice(counts(filt)); ns$.freeDevice(assay(norm, "logcounts", withDimnames = FALSE))
rm(filt, norm, hvg)
bal <- bench_step("rebalance", sub, function(x) rebalance(x))
scaled <- bench_step("scale", bal, function(x) scaleGenes(x, zero.center = FALSE))
pca <- bench_step("pca", scaled, function(x) computePCA(x, ncomponents = 100),
                  parts = function(out) metadata(out)$PCA$seconds)

# Stored entries per cell of the HVG matrix, for the Gram matrix's flops.
per_cell <- qcMetrics(bal)$n_genes_by_counts
sum_sq_row_nnz <- sum(as.numeric(per_cell)^2)
k <- 100
n0 <- sizes$atlas[["cells"]]; g0 <- sizes$atlas[["genes"]]; z0 <- sizes$atlas[["nnz"]]
n1 <- sizes$filtered[["cells"]]; g1 <- sizes$filtered[["genes"]]; z1 <- sizes$filtered[["nnz"]]
g2 <- sizes$hvg[["genes"]]; z2 <- sizes$hvg[["nnz"]]

# Floors: the bytes each step must at least read and write on the device and
# the arithmetic it must at least do, for CSR with float32 values, int32 gene
# indices and int64 row pointers (8 bytes per stored entry, 8 per row).
#  qc: read values + indices + row pointers once; write per-cell (total,
#      detected, mt) and per-gene (total, cells) results in float64.
#  filter: read the matrix once, write the kept entries (values + new indices).
#  normalize_log1p: read the values and row pointers, write new values (the
#      index is shared with counts: normalisation does not change it).
#  hvg: read values + indices of logcounts once (sum and sum of squares per gene).
#  hvg_subset: read logcounts' values + indices, write the kept entries.
#  rebalance: nothing on one GPU and one shard.
#  scale: read values + indices of the HVG matrix, write values; the genes'
#      standard deviations are those of the HVG step (same cells, same values).
#  pca_fit: read the HVG matrix once, write the G x G Gram matrix (float64);
#      flops: every pair of stored entries of a cell (sum over cells of
#      nnz (nnz + 1), a multiply and an add each) plus 4/3 G^3 for the
#      tridiagonal reduction of the eigensolver.
#  pca_projection: read the HVG matrix, write n x k float32 scores; 2 nnz k flops.
row_ptrs <- function(n) (n + 1) * 8
floors <- data.frame(
    step = c("qc", "filter", "normalize_log1p", "hvg", "hvg_subset", "rebalance", "scale",
             "pca_fit", "pca_projection"),
    bytes = c(z0 * 8 + row_ptrs(n0) + n0 * 3 * 8 + g0 * 2 * 8,
              z0 * 8 + row_ptrs(n0) + z1 * 8 + row_ptrs(n1),
              z1 * 4 + row_ptrs(n1) + z1 * 4,
              z1 * 8 + row_ptrs(n1) + g1 * 2 * 8,
              z1 * 8 + row_ptrs(n1) + z2 * 8 + row_ptrs(n1),
              0,
              z2 * 8 + row_ptrs(n1) + z2 * 4,
              z2 * 8 + row_ptrs(n1) + g2^2 * 8,
              z2 * 8 + row_ptrs(n1) + n1 * k * 4),
    flops = c(3 * z0, 0, 3 * z1, 3 * z1, 0, 0, z2,
              sum_sq_row_nnz + z2 + 4 / 3 * g2^3,
              2 * z2 * k))

# computePCA's own phase times: the projection of the cells (scores into an R
# matrix included) is the "projection" phase; the fit is the rest of the call.
p <- results$pca
phases <- do.call(rbind, p$parts)
projection <- phases[, "projection"]
results$pca_fit <- list(times = p$times - projection, peak = p$peak, extra = p$extra, gc = p$gc)
results$pca_projection <- list(times = projection, peak = p$peak, extra = p$extra, gc = NA)
cat("\ncomputePCA phases, median of the timed runs (s):\n")
print(round(apply(phases, 2, median), 4))

size_in <- list(qc = "atlas", filter = "atlas", normalize_log1p = "filtered", hvg = "filtered",
                hvg_subset = "filtered", rebalance = "hvg", scale = "hvg", pca_fit = "hvg",
                pca_projection = "hvg")
rows <- lapply(floors$step, function(s) {
    r <- results[[s]]
    z <- sizes[[size_in[[s]]]]
    data.frame(side = "cellshard", step = s, runs = length(r$times),
               median_s = round(median(r$times), 4), min_s = round(min(r$times), 4),
               max_s = round(max(r$times), 4),
               bytes_floor = floors$bytes[floors$step == s], flops = floors$flops[floors$step == s],
               cells = z[["cells"]], genes = z[["genes"]], nnz = z[["nnz"]],
               peak_device_bytes = r$peak, peak_extra_bytes = r$extra,
               r_gc_median_s = round(median(r$gc), 4))
})
tab <- do.call(rbind, rows)
write.csv(tab, out_csv, row.names = FALSE)
cat(sprintf("\nsizes: atlas %d x %d (nnz %.6g); filtered %d x %d (nnz %.6g); HVG %d x %d (nnz %.6g); sum nnz^2 per cell %.4g\n",
            n0, g0, z0, n1, g1, z1, n1, g2, z2, sum_sq_row_nnz))
cat(sprintf("total of the step medians: %.3f s; written to %s\n", sum(tab$median_s), out_csv))
