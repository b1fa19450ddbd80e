# cellshard's CPU backend against the R peers on the same synthetic counts
# (issue 8, item 5): scuttle + scran + scater, and Seurat, each doing its
# closest equivalent of every step of the seed pipeline. Each pipeline runs in
# its own Rscript, pinned to 2 CPUs (taskset -c 0,1) under /usr/bin/time -v,
# so that its peak memory (maximum resident set size) is its own.
#
#   Rscript bench/cpu_peers.R [n.cells] [pipelines]
#     n.cells    default 1e5
#     pipelines  comma-separated, default cellshard,scran,seurat
#
# The counts: simulateAtlas(n.cells, seed = 1, devices = "cpu") (SYNTHETIC.md).
# cellshard draws them straight into its host shards, as a user would; the
# peers read the same matrix as a dgCMatrix (genes x cells) saved once by the
# driver with toHost(). Printed: seconds per step and peak memory of each
# pipeline, and the resident memory once its input was loaded.
#
# Steps, and what each pipeline does for them:
#   qc        cellshard qcMetrics (mt subset) | scuttle perCellQCMetrics +
#             perFeatureQCMetrics (mt subset) | Seurat CreateSeuratObject +
#             PercentageFeatureSet("^MT-")
#   filter    cells 200 <= detected genes <= 10000, genes in >= 10 cells
#             (subsetting; Seurat: subset() and the genes' counts by hand)
#   normalize total 1e4 + log1p | scuttle logNormCounts (library-size factors,
#             log2) | Seurat NormalizeData (LogNormalize, 1e4)
#   hvg       cell_ranger, 5000 genes, subset | scran modelGeneVar +
#             getTopHVGs(n = 5000) | Seurat FindVariableFeatures(dispersion, 5000)
#   scale     unit variance (cellshard: no centring, as the notebook) |
#             scater: inside runPCA(scale = TRUE) | Seurat ScaleData on the 5000
#   pca       100 components | scater runPCA(BSPARAM = IrlbaParam()) |
#             Seurat RunPCA(npcs = 100) (irlba)
args <- commandArgs(trailingOnly = TRUE)

# --- one pipeline, in a child process ------------------------------------------
if (length(args) >= 1 && args[1] == "--run") {
    which <- args[2]; n_cells <- as.numeric(args[3]); input <- args[4]
    suppressPackageStartupMessages(library(cellshard))
    rss_mb <- function() {
        s <- readLines("/proc/self/status")
        as.numeric(sub("[^0-9]*([0-9]+).*", "\\1", grep("^VmRSS", s, value = TRUE))) / 1024
    }
    # Wall seconds ("STEP") and CPU seconds of all threads ("CPU"): on a
    # shared machine the CPU seconds are the steadier measure.
    cpu <- function() { p <- proc.time(); p[["user.self"]] + p[["sys.self"]] }
    step <- function(name, expr) {
        t0 <- proc.time()[["elapsed"]]; c0 <- cpu()
        value <- expr
        cat(sprintf("STEP %s %.3f\nCPU %s %.3f\n", name, proc.time()[["elapsed"]] - t0, name, cpu() - c0))
        value
    }
    if (which == "cellshard") {
        sce <- simulateAtlas(n_cells, seed = 1, devices = "cpu")
        cat(sprintf("INPUT_RSS %.0f\n", rss_mb()))
        c0 <- cpu()
        out <- runSeedPipeline(sce, verbose = FALSE)
        cat(sprintf("CPU total %.3f\n", cpu() - c0))
        tm <- metadata(out)$timings
        for (i in seq_len(nrow(tm))) cat(sprintf("STEP %s %.3f\n", tm$step[i], tm$seconds[i]))
        ph <- metadata(out)$PCA$seconds
        cat(sprintf("PCA_PHASES %s\n", paste(sprintf("%s %.2f s", names(ph), ph), collapse = ", ")))
        cat(sprintf("SHAPE %d %d\n", nrow(out), ncol(out)))
    } else if (which == "scran") {
        suppressPackageStartupMessages({
            library(SingleCellExperiment); library(scuttle); library(scran); library(scater)
            library(BiocSingular)
        })
        counts <- readRDS(input)
        sce <- SingleCellExperiment(list(counts = counts)); rm(counts)
        cat(sprintf("INPUT_RSS %.0f\n", rss_mb()))
        mt <- grepl("^MT-", rownames(sce))
        qc <- step("qc metrics", list(cells = perCellQCMetrics(sce, subsets = list(mt = mt)),
                                      genes = perFeatureQCMetrics(sce)))
        sce <- step("filter", sce[qc$genes$detected / 100 * ncol(sce) >= 10,
                                  qc$cells$detected >= 200 & qc$cells$detected <= 10000])
        sce <- step("normalize + log1p", logNormCounts(sce))
        sce <- step("highly variable genes", {
            hvg <- getTopHVGs(modelGeneVar(sce), n = 5000)
            sce[hvg, ]
        })
        step("scale", NULL)  # done inside runPCA(scale = TRUE)
        sce <- step("pca", runPCA(sce, ncomponents = 100, scale = TRUE, BSPARAM = IrlbaParam()))
        cat(sprintf("SHAPE %d %d\n", nrow(sce), ncol(sce)))
    } else if (which == "seurat") {
        suppressPackageStartupMessages(library(Seurat))
        counts <- readRDS(input)
        cat(sprintf("INPUT_RSS %.0f\n", rss_mb()))
        so <- step("qc metrics", {
            so <- CreateSeuratObject(counts)
            so[["percent.mt"]] <- PercentageFeatureSet(so, pattern = "^MT-")
            so
        })
        rm(counts)
        so <- step("filter", {
            genes <- Matrix::rowSums(GetAssayData(so, slot = "counts") > 0) >= 10
            subset(so, features = rownames(so)[genes],
                   subset = nFeature_RNA >= 200 & nFeature_RNA <= 10000)
        })
        so <- step("normalize + log1p", NormalizeData(so, normalization.method = "LogNormalize",
                                                      scale.factor = 1e4, verbose = FALSE))
        so <- step("highly variable genes", FindVariableFeatures(so, selection.method = "dispersion",
                                                                 nfeatures = 5000, verbose = FALSE))
        so <- step("scale", ScaleData(so, features = VariableFeatures(so), verbose = FALSE))
        so <- step("pca", RunPCA(so, npcs = 100, features = VariableFeatures(so), verbose = FALSE))
        cat(sprintf("SHAPE %d %d\n", length(VariableFeatures(so)), ncol(so)))
    } else stop("unknown pipeline ", which)
    quit(save = "no")
}

# --- the driver -----------------------------------------------------------------
n_cells <- if (length(args) >= 1) as.numeric(args[1]) else 1e5
pipelines <- if (length(args) >= 2) strsplit(args[2], ",")[[1]] else c("cellshard", "scran", "seurat")
script <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
suppressPackageStartupMessages(library(cellshard))

input <- file.path(tempdir(), sprintf("counts_%d.rds", as.integer(n_cells)))
if (any(pipelines != "cellshard")) {
    sce <- simulateAtlas(n_cells, seed = 1, devices = "cpu")
    saveRDS(toHost(counts(sce)), input, compress = FALSE)
    rm(sce); invisible(gc())
}

run_one <- function(which) {
    log <- tempfile(fileext = ".log")
    cmd <- sprintf("taskset -c 0,1 /usr/bin/time -v %s --vanilla %s --run %s %.0f %s > %s 2>&1",
                   file.path(R.home("bin"), "Rscript"), shQuote(script), which, n_cells, input, log)
    t0 <- proc.time()[["elapsed"]]
    status <- system(cmd)
    wall <- proc.time()[["elapsed"]] - t0
    out <- readLines(log)
    if (status != 0) {
        cat(tail(out, 30), sep = "\n")
        stop(which, " failed")
    }
    parse <- function(tag) do.call(rbind, lapply(strsplit(grep(paste0("^", tag, " "), out, value = TRUE), " "),
        function(p) data.frame(step = paste(p[2:(length(p) - 1)], collapse = " "),
                               seconds = as.numeric(p[length(p)]))))
    steps <- parse("STEP")
    cpu <- parse("CPU")
    cpu_total <- if (any(cpu$step == "total")) cpu$seconds[cpu$step == "total"] else sum(cpu$seconds)
    rss <- as.numeric(sub(".*: ", "", grep("Maximum resident set size", out, value = TRUE))) / 1024
    input_rss <- as.numeric(sub("INPUT_RSS ", "", grep("^INPUT_RSS", out, value = TRUE)))
    shape <- sub("SHAPE ", "", grep("^SHAPE", out, value = TRUE))
    phases <- grep("^PCA_PHASES", out, value = TRUE)
    if (length(phases)) cat(which, "PCA by phase:", sub("PCA_PHASES ", "", phases), "\n")
    list(which = which, steps = steps, cpu_total = cpu_total, peak_mb = rss, input_mb = input_rss,
         wall = wall, shape = shape)
}

cat(sprintf("%s; %d CPUs visible, runs pinned to CPUs 0,1; %s cells\n",
            sub("^Model name: *", "", grep("^Model name", system("lscpu", intern = TRUE), value = TRUE)[1]),
            parallel::detectCores(), format(n_cells, big.mark = ",")))
results <- lapply(pipelines, function(p) { r <- run_one(p); cat(p, "done in", round(r$wall), "s\n"); r })

tab <- Reduce(function(a, b) merge(a, b, by = "step", all = TRUE, sort = FALSE),
              lapply(results, function(r) setNames(r$steps, c("step", r$which))))
order <- c("qc metrics", "filter", "normalize + log1p", "highly variable genes", "rebalance",
           "scale", "pca")
tab <- tab[order(match(tab$step, order)), ]
tab <- rbind(tab, c(list(step = "total"), lapply(tab[-1], sum, na.rm = TRUE)))
print(tab, row.names = FALSE, digits = 4)
for (r in results)
    cat(sprintf("%-10s %8.1f CPU s over the steps; peak RSS %7.0f MB (%5.0f MB after loading the input); result %s (genes cells)\n",
                r$which, r$cpu_total, r$peak_mb, r$input_mb, r$shape))
