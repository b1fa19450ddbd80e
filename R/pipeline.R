#' The seed preprocessing pipeline in one call
#'
#' Runs the sequence of the rapids-singlecell multi-GPU showcase on a
#' device-backed \code{SingleCellExperiment}: QC metrics; keep cells with
#' \code{min.genes <= n_genes_by_counts <= max.genes} and genes detected in at
#' least \code{min.cells} cells (both judged on the QC of the unfiltered data, as
#' the notebook does); \code{normalizeTotal} and \code{log1pTransform};
#' \code{highlyVariableGenes} and subsetting to them; \code{rebalance} to one
#' equal share of cells per device; \code{scaleGenes}; \code{computePCA}.
#'
#' @param sce A \code{SingleCellExperiment} whose \code{counts} are on the devices
#'   (from \code{\link{readH5AD}}, \code{\link{toDevice}}, ...).
#' @param min.genes,max.genes Cell filter on detected genes.
#' @param min.cells Gene filter on the number of cells.
#' @param target.sum Passed to \code{\link{normalizeTotal}}.
#' @param n.top,flavor Passed to \code{\link{highlyVariableGenes}}.
#' @param zero.center,max.value Passed to \code{\link{scaleGenes}} (the notebook
#'   uses \code{zero.center = FALSE}).
#' @param ncomponents Passed to \code{\link{computePCA}}.
#' @param subsets Gene subsets for \code{\link{qcMetrics}}; by default the
#'   mitochondrial genes (names starting with "MT-" or "mt-").
#' @param verbose Print each step's time as it finishes (by default when
#'   \code{getOption("cellshard.verbose")} is \code{TRUE}: in interactive sessions).
#' @return The processed \code{SingleCellExperiment}: assays \code{counts},
#'   \code{logcounts} and \code{scaled} over the selected genes and kept cells,
#'   QC columns in \code{colData} and \code{rowData}, \code{reducedDim(sce, "PCA")},
#'   and \code{metadata(sce)$timings}: a data frame of seconds per step.
#' @examples
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' out <- runSeedPipeline(sce, min.genes = 5, min.cells = 3, n.top = 100, ncomponents = 10)
#' metadata(out)$timings
#' @export
runSeedPipeline <- function(sce, min.genes = 200, max.genes = 10000, min.cells = 10,
                            target.sum = 1e4, n.top = 5000, flavor = "cell_ranger",
                            zero.center = FALSE, max.value = Inf, ncomponents = 100,
                            subsets = NULL,
                            verbose = getOption("cellshard.verbose", interactive())) {
    timings <- data.frame(step = character(), seconds = numeric(), cells = numeric(),
                          genes = numeric())
    step <- function(label, expr) {
        t0 <- proc.time()[["elapsed"]]
        value <- expr
        dt <- proc.time()[["elapsed"]] - t0
        timings[nrow(timings) + 1L, ] <<- list(label, dt, ncol(value), nrow(value))
        if (isTRUE(verbose)) message(sprintf("%-22s %8.3f s  (%d cells x %d genes)", label, dt, ncol(value),
                                     nrow(value)))
        value
    }
    if (is.null(subsets)) {
        mt <- grepl("^(MT|mt)-", rownames(sce))
        if (any(mt)) subsets <- list(mt = mt)
    }

    sce <- step("qc metrics", qcMetrics(sce, subsets = subsets))
    # the cell mask is built in C++ memory, outside R's heap (millions of cells)
    sce <- step("filter", sce[SummarizedExperiment::rowData(sce)$n_cells_by_counts >= min.cells,
                              cs_in_range(sce$n_genes_by_counts, min.genes, max.genes)])
    sce <- step("normalize + log1p", normalizeTotal(sce, target.sum = target.sum, log = TRUE))
    sce <- step("highly variable genes", highlyVariableGenes(sce, n.top = n.top, flavor = flavor,
                                                             subset = TRUE))
    sce <- step("rebalance", rebalance(sce))
    sce <- step("scale", scaleGenes(sce, zero.center = zero.center, max.value = max.value))
    sce <- step("pca", computePCA(sce, ncomponents = min(ncomponents, nrow(sce), .nCells(sce))))
    metadata(sce)$timings <- timings
    sce
}
