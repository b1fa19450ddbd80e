#' cellshard: single-cell preprocessing on one or many GPUs
#'
#' cellshard reads count matrices straight into cell-sharded sparse matrices on
#' the GPUs (or, without a GPU, in host memory through its CPU backend) and
#' exposes them as \code{SingleCellExperiment} assays of class
#' \code{\linkS4class{CellshardMatrix}}. Bioconductor code that knows nothing
#' of GPUs still works on them: blocks come to the host on demand.
#'
#' Start with \code{\link{cellshardInfo}()} to see what the build has, then
#' \code{\link{readH5AD}}, \code{\link{read10xH5}}, \code{\link{read10xMtx}} or
#' \code{\link{toDevice}}.
#'
#' @section Progress and messages:
#' Steps that can take more than a few seconds show their progress with cli:
#' the readers (one bar per file read), \code{\link{simulateAtlas}} (cells
#' drawn), \code{\link{computePCA}} (Gram matrix, eigendecomposition,
#' projection of the cells) and \code{\link{runSeedPipeline}} (one line per
#' step with its time). A bar appears once its phase has taken two seconds
#' (cli's option \code{cli.progress_show_after}), so quick calls print
#' nothing. All of it is governed by one option,
#' \code{options(cellshard.verbose = TRUE/FALSE)}; by default it is
#' \code{TRUE} in interactive sessions and \code{FALSE} otherwise (scripts,
#' knitr, tests). While a long step reports progress it can be interrupted
#' (Ctrl-C or Esc): the work stops between shards or chunks of cells and
#' nothing is left half-built (an eigendecomposition under way finishes first).
#'
#' @examples
#' cellshardInfo()
#' old <- options(cellshard.verbose = FALSE)   # no progress bars or step lines
#' sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                  devices = "cpu")
#' options(old)
#'
#' @useDynLib cellshard, .registration = TRUE
#' @importFrom Rcpp evalCpp
#' @import methods
#' @import SingleCellExperiment
#' @importFrom SummarizedExperiment assay assay<- assays assays<- assayNames colData rowData
#'   colData<- rowData<-
#' @importFrom S4Vectors DataFrame metadata metadata<-
#' @importClassesFrom DelayedArray DelayedArray DelayedMatrix
#' @importFrom DelayedArray DelayedArray extract_array is_sparse extract_sparse_array
#'   matrixClass new_DelayedArray SparseArraySeed
#' @keywords internal
"_PACKAGE"
