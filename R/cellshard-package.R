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
