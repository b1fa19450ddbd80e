# Out of core (issue 7): the seed pipeline on a synthetic atlas with and
# without a device memory budget, per step, against the host-to-device
# bandwidth measured in the same run.
#
# The atlas (default: one GPU's share of the reference workload, 1,430,156
# cells, ~2.9e9 non-zeros, ~23 GB of index and values: about 3x an 8 GB
# budget) is drawn on the device; under the budget the shards past it go to
# pinned host memory and every step streams them through the GPU. For each
# step the script reports its seconds, the bytes that crossed the link
# (staged in; written back to pinned memory), and the link time those bytes
# take at the bandwidths measured in the same run, each direction on its own
# copy engine (the larger of the two times), as a share of the step's time
# ("link share": 100% means the step ran at the link's speed). Each pipeline
# runs twice (the second is reported) and R's garbage is collected before
# each step, outside its time. "streaming cost" is what a step took over its
# in-memory time, and "link share of the cost" the link time of its bytes
# over that: 100% means the bytes crossed at the measured bandwidth with
# nothing else added (more: transfers overlapped the step's own work).
#
#   Rscript bench/out_of_core.R [n.cells] [budget] [device]    (defaults: 1430156 8GB 0)
suppressPackageStartupMessages(library(cellshard))
args <- commandArgs(trailingOnly = TRUE)
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1430156
budget <- if (length(args) >= 2) args[2] else "8GB"
device <- if (length(args) >= 3) as.integer(args[3]) else 0L
options(cellshard.verbose = FALSE)
cellshardInfo()

clock <- function() proc.time()[["elapsed"]]
# Fresh pinned host memory, as results written back take it: 4 GB at once.
t0 <- clock(); cellshard:::cs_probe_allocation(-2L, 4e9); pin_s <- clock() - t0
cellshard:::cs_release_unused_device_memory()
cat(sprintf("\nfresh pinned host memory: %.2f GB/s (4 GB, faulted in and registered)\n", 4 / pin_s))
bandwidth <- cellshard:::cs_upload_bandwidth(device)
bandwidth_back <- cellshard:::cs_download_bandwidth(device)
cat(sprintf(paste0("\npinned memory <-> GPU %d, 256 MiB copies: host-to-device %.2f GB/s, ",
                   "device-to-host %.2f GB/s\n"), device, bandwidth / 1e9, bandwidth_back / 1e9))

# The seed sequence step by step (as runSeedPipeline), with the bytes each
# step moved over the link.
pipeline <- function(sce) {
    steps <- data.frame(step = character(), seconds = numeric(), to_device_GB = numeric(),
                        to_host_GB = numeric())
    step <- function(label, expr) {
        invisible(gc())
        c0 <- cellshard:::cs_stream_counters(); t0 <- clock()
        value <- expr
        dt <- clock() - t0; c1 <- cellshard:::cs_stream_counters()
        steps[nrow(steps) + 1L, ] <<- list(label, dt, (c1[[1]] - c0[[1]]) / 1e9,
                                           (c1[[2]] - c0[[2]]) / 1e9)
        value
    }
    mt <- grepl("^MT-", rownames(sce))
    sce <- step("qc metrics", qcMetrics(sce, subsets = list(mt = mt)))
    sce <- step("filter", sce[rowData(sce)$n_cells_by_counts >= 10,
                              sce$n_genes_by_counts >= 200 & sce$n_genes_by_counts <= 10000])
    sce <- step("normalize + log1p", normalizeTotal(sce, target.sum = 1e4, log = TRUE))
    sce <- step("highly variable genes", highlyVariableGenes(sce, n.top = 5000, subset = TRUE))
    sce <- step("rebalance", rebalance(sce))
    sce <- step("scale", scaleGenes(sce, zero.center = FALSE))
    sce <- step("pca", computePCA(sce, ncomponents = 100))
    steps$link_s <- pmax(steps$to_device_GB * 1e9 / bandwidth, steps$to_host_GB * 1e9 / bandwidth_back)
    steps$link_share <- sprintf("%.0f%%", 100 * steps$link_s / steps$seconds)
    list(sce = sce, steps = steps)
}

show <- function(label, res, drawn, in_memory = NULL) {
    cat(sprintf("\n%s (atlas drawn in %.2f s)\n", label, drawn))
    st <- res$steps
    st[nrow(st) + 1L, ] <- list("total", sum(st$seconds), sum(st$to_device_GB),
                                sum(st$to_host_GB), sum(st$link_s),
                                sprintf("%.0f%%", 100 * sum(st$link_s) / sum(st$seconds)))
    if (!is.null(in_memory)) {
        st$in_memory_s <- c(in_memory$seconds, sum(in_memory$seconds))
        st$streaming_cost_s <- st$seconds - st$in_memory_s
        st$link_share_of_cost <- ifelse(st$link_s > 0, sprintf("%.0f%%", 100 * st$link_s /
                                        pmax(st$streaming_cost_s, 1e-9)), "")
    }
    print(st, row.names = FALSE, digits = 4)
}

# Warm-up: CUDA libraries, kernels and the model's tuning, on a small atlas.
invisible(pipeline(simulateAtlas(50000, seed = 1, devices = device)))
invisible(gc())

# Without a budget: everything on the device.
t0 <- clock(); atlas <- simulateAtlas(n_cells, seed = 1, devices = device); drawn <- clock() - t0
syn <- metadata(atlas)$synthetic
cat(sprintf("\natlas: %s cells x %s genes, %.4g non-zeros (%.1f GB of index and values)\n",
            format(syn$cells, big.mark = ","), format(syn$genes, big.mark = ","), syn$nnz,
            (syn$nnz * 8 + (syn$cells + 1) * 8) / 1e9))
mem <- pipeline(atlas)
show("in memory (no budget)", mem, drawn)
ref <- list(cells = colnames(mem$sce), genes = rownames(mem$sce), qc = colData(mem$sce),
            pca = reducedDim(mem$sce, "PCA"), steps = mem$steps)
rm(atlas, mem); invisible(gc()); cellshard:::cs_release_unused_device_memory()

# Under the budget.
options(cellshard.device.memory = budget)
t0 <- clock(); atlas <- simulateAtlas(n_cells, seed = 1, devices = device); drawn <- clock() - t0
lay <- deviceLayout(counts(atlas))
cat(sprintf("\nbudget %s per GPU: %d shards, %d on the device, %d in pinned host memory\n", budget,
            nrow(lay), sum(lay$home == "device"), sum(lay$home == "pinned")))
print(deviceMemory(device))
invisible(pipeline(atlas))
ooc <- pipeline(atlas)
show(sprintf("out of core (budget %s)", budget), ooc, drawn, in_memory = ref$steps)

pcs <- reducedDim(ooc$sce, "PCA")
cat(sprintf(paste0("\nsame results as in memory: cells %s, HVGs %s, QC colData identical %s, ",
                   "PCA max |difference| %.3g (largest |PC| %.3g), PC1-20 min |cor| %.8f\n"),
            identical(ref$cells, colnames(ooc$sce)), identical(ref$genes, rownames(ooc$sce)),
            identical(as.data.frame(ref$qc), as.data.frame(colData(ooc$sce))),
            max(abs(pcs - ref$pca)), max(abs(ref$pca)),
            min(abs(diag(cor(pcs[, 1:20], ref$pca[, 1:20]))))))
