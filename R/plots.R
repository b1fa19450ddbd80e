#' Pictures of the preprocessing steps
#'
#' ggplot2 pictures of what the pipeline verbs leave in the object:
#' \describe{
#'   \item{\code{plotQCMetrics}}{histograms of the per-cell QC columns of
#'     \code{\link{qcMetrics}} (\code{n_genes_by_counts}, \code{total_counts},
#'     \code{pct_counts_<subset>} for each gene subset, and
#'     \code{pct_counts_in_top_N_genes}), one panel each, with the filter
#'     thresholds drawn as dashed vertical lines.}
#'   \item{\code{plotHighlyVariableGenes}}{each gene's dispersion (normalised
#'     where present) against its mean, from the \code{rowData} columns of
#'     \code{\link{highlyVariableGenes}}, the selected genes highlighted.
#'     \code{cell_ranger} and \code{seurat} give \code{dispersions_norm} against
#'     \code{means}; the \code{seurat_v3} flavours give \code{variances_norm}
#'     against \code{means} (of the counts, on a log scale).}
#'   \item{\code{plotPCAVariance}}{the percentage of variance of each principal
#'     component (the elbow), from the \code{percentVar} attribute that
#'     \code{\link{computePCA}} puts on the \code{reducedDim}.}
#'   \item{\code{plotPCACells}}{the cells on two principal components, coloured
#'     by a \code{colData} column.}
#' }
#' None of them reads an assay: they use \code{colData}, \code{rowData} and
#' \code{reducedDims} only, so nothing of size cells x genes leaves the devices.
#' ggplot2 is suggested, not imported: install it (\code{install.packages("ggplot2")},
#' or Debian's \code{r-cran-ggplot2}) to use these functions.
#'
#' The PC scatter is called \code{plotPCACells} rather than \code{plotPCA} so
#' that it does not mask the \code{plotPCA} generic of BiocGenerics (and
#' scater's method for it).
#'
#' @param sce A \code{SingleCellExperiment}.
#' @param min.genes,max.genes Thresholds on \code{n_genes_by_counts}, drawn on
#'   its panel; \code{NULL} for none.
#' @param max.pct.mt Threshold on \code{pct_counts_mt} (needs \code{qcMetrics(sce,
#'   subsets = list(mt = ...))}), drawn on its panel; \code{NULL} for none.
#' @param metrics The \code{colData} columns to show; \code{NULL} for those
#'   listed above that are present.
#' @param ... Passed to \code{ggplot2::geom_histogram} (\code{plotQCMetrics},
#'   e.g. \code{bins = 30}) or \code{ggplot2::geom_point} (\code{plotPCACells},
#'   e.g. \code{size = 0.2}).
#' @param name The name of the \code{reducedDim} written by \code{computePCA}.
#' @param n Show at most the first \code{n} components.
#' @param colour.by \code{NULL}, the name of a \code{colData} column, or a vector
#'   with one value per cell.
#' @param components The two components to show.
#' @return A ggplot object: print it to draw it, add layers or themes to it, or
#'   save it with \code{ggplot2::ggsave}. Its \code{data} hold the plotted
#'   values: \code{plotQCMetrics} one row per cell and metric (\code{cell},
#'   \code{metric}, \code{value}); \code{plotHighlyVariableGenes} one row per
#'   gene in the order of \code{rowData} (\code{gene}, \code{mean},
#'   \code{dispersion}, \code{highly_variable}); \code{plotPCAVariance} one row per
#'   component (\code{component}, \code{percentVar}); \code{plotPCACells} one row
#'   per cell (\code{cell}, \code{x}, \code{y}, \code{colour}).
#' @details Cells with zero counts have \code{NaN} percentages; genes whose
#'   normalised dispersion is undefined (constant genes) have \code{NaN} there.
#'   Such values are left out of the picture (the subtitle or caption says
#'   how many). For millions of cells a scatter takes a while to draw: plot a
#'   sample of the cells, \code{plotPCACells(sce[, sample(ncol(sce), 1e5)])}
#'   (subsetting stays on the devices).
#' @examples
#' if (requireNamespace("ggplot2", quietly = TRUE)) {
#'     sce <- read10xH5(system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard"),
#'                      devices = "cpu")
#'     sce <- qcMetrics(sce, percent.top = 50)
#'     print(plotQCMetrics(sce, min.genes = 5, max.genes = 50))
#'
#'     sce <- sce[rowData(sce)$n_cells_by_counts >= 3, sce$n_genes_by_counts >= 5]
#'     sce <- log1pTransform(normalizeTotal(sce))
#'     sce <- highlyVariableGenes(sce, n.top = 100)
#'     print(plotHighlyVariableGenes(sce))
#'
#'     sce <- computePCA(scaleGenes(sce[rowData(sce)$highly_variable, ]), ncomponents = 20)
#'     print(plotPCAVariance(sce))
#'     print(plotPCACells(sce, colour.by = "total_counts"))
#' }
#' @name plots
NULL

utils::globalVariables(".data")

#' @rdname plots
#' @export
plotQCMetrics <- function(sce, min.genes = NULL, max.genes = NULL, max.pct.mt = NULL,
                          metrics = NULL, ...) {
    .needGgplot2("plotQCMetrics")
    cd <- colData(sce)
    if (is.null(metrics)) metrics <- .qcColumns(names(cd))
    if (!length(metrics))
        stop("plotQCMetrics(): colData(sce) has no QC columns: run qcMetrics(sce) first", call. = FALSE)
    absent <- setdiff(metrics, names(cd))
    if (length(absent))
        stop("plotQCMetrics(): colData(sce) has no column ", paste(absent, collapse = ", "),
             ": run qcMetrics(sce) first", call. = FALSE)
    thresholds <- .qcThresholds(min.genes, max.genes, max.pct.mt)
    unplaced <- setdiff(thresholds$metric, metrics)
    if (length(unplaced))
        stop("plotQCMetrics(): a threshold is given for ", unplaced[1], ", which is not shown",
             if (unplaced[1] == "pct_counts_mt") " (run qcMetrics(sce, subsets = list(mt = ...)) first)",
             call. = FALSE)

    values <- data.frame(cell = rep(colnames(sce) %||% seq_len(ncol(sce)), length(metrics)),
                         metric = factor(rep(metrics, each = ncol(sce)), levels = metrics),
                         value = unlist(lapply(metrics, function(m) as.numeric(cd[[m]])),
                                        use.names = FALSE))
    thresholds$metric <- factor(thresholds$metric, levels = metrics)
    histogram <- utils::modifyList(list(bins = 50, fill = "grey45", na.rm = TRUE), list(...))
    ggplot2::ggplot(values, ggplot2::aes(x = .data$value)) +
        do.call(ggplot2::geom_histogram, histogram) +
        ggplot2::geom_vline(data = thresholds, ggplot2::aes(xintercept = .data$value),
                            colour = "firebrick", linetype = "dashed", linewidth = 0.7) +
        ggplot2::facet_wrap(ggplot2::vars(.data$metric), scales = "free",
                            labeller = ggplot2::as_labeller(.qcLabels(metrics))) +
        ggplot2::labs(title = "Quality control per cell", x = NULL, y = "cells",
                      subtitle = .qcKeptLine(cd, min.genes, max.genes, max.pct.mt)) +
        ggplot2::theme_bw()
}

#' @rdname plots
#' @export
plotHighlyVariableGenes <- function(sce) {
    .needGgplot2("plotHighlyVariableGenes")
    rd <- rowData(sce)
    y_col <- intersect(c("dispersions_norm", "variances_norm", "dispersions", "variances"), names(rd))[1]
    if (is.na(y_col) || !all(c("means", "highly_variable") %in% names(rd)))
        stop("plotHighlyVariableGenes(): rowData(sce) has no highly-variable-gene statistics ",
             "(columns means, highly_variable and dispersions_norm or variances_norm): ",
             "run highlyVariableGenes(sce) first", call. = FALSE)
    flavor <- metadata(sce)$highlyVariableGenes$flavor %||%
        if (y_col %in% c("variances_norm", "variances")) "seurat_v3" else "cell_ranger"
    counts_scale <- flavor %in% c("seurat_v3", "seurat_v3_paper")
    genes <- data.frame(gene = rownames(sce) %||% seq_len(nrow(sce)), mean = as.numeric(rd$means),
                        dispersion = as.numeric(rd[[y_col]]),
                        highly_variable = as.logical(rd$highly_variable))
    genes$highly_variable[is.na(genes$highly_variable)] <- FALSE
    drawable <- function(d) is.finite(d$dispersion) & is.finite(d$mean) & (!counts_scale | d$mean > 0)
    hidden <- sum(!drawable(genes))
    n_sel <- sum(genes$highly_variable)
    subtitle <- if (n_sel == nrow(genes) && n_sel > 0)
        sprintf("all %d genes in the object are selected (as after subset = TRUE)", n_sel) else
        sprintf("%d of %d genes selected", n_sel, nrow(genes))
    colours <- c(`other genes` = "grey65", `highly variable` = "firebrick")
    point <- function(selected) ggplot2::geom_point(
        data = function(d) d[drawable(d) & d$highly_variable == selected, , drop = FALSE],
        ggplot2::aes(colour = if (selected) "highly variable" else "other genes"),
        size = if (selected) 1.2 else 0.9, alpha = if (selected) 0.9 else 0.6)
    p <- ggplot2::ggplot(genes, ggplot2::aes(x = .data$mean, y = .data$dispersion)) +
        point(FALSE) + point(TRUE) +
        ggplot2::scale_colour_manual(values = colours, breaks = rev(names(colours)), name = NULL) +
        ggplot2::labs(title = sprintf("Highly variable genes (%s)", flavor), subtitle = subtitle,
                      x = .hvgMeanLabel(flavor), y = .hvgSpreadLabel(y_col),
                      caption = if (hidden) sprintf("%d genes with undefined statistics not shown", hidden)) +
        ggplot2::theme_bw() + ggplot2::theme(legend.position = "top")
    if (counts_scale) p <- p + ggplot2::scale_x_log10()
    p
}

#' @rdname plots
#' @export
plotPCAVariance <- function(sce, name = "PCA", n = 50) {
    .needGgplot2("plotPCAVariance")
    pv <- .percentVar(sce, name, "plotPCAVariance")
    if (!is.numeric(n) || length(n) != 1L || is.na(n) || n < 1)
        stop("plotPCAVariance(): n must be a positive number", call. = FALSE)
    k <- min(as.integer(n), length(pv))
    elbow <- data.frame(component = seq_len(k), percentVar = pv[seq_len(k)])
    ggplot2::ggplot(elbow, ggplot2::aes(x = .data$component, y = .data$percentVar)) +
        ggplot2::geom_line(colour = "steelblue") +
        ggplot2::geom_point(colour = "steelblue", size = 1.8) +
        ggplot2::scale_x_continuous(breaks = .integerBreaks(k)) +
        ggplot2::expand_limits(y = 0) +
        ggplot2::labs(title = "Variance explained per principal component",
                      subtitle = sprintf("PC1-PC%d explain %.1f%% of the variance of the genes used",
                                         k, sum(elbow$percentVar)),
                      x = "principal component", y = "% of variance") +
        ggplot2::theme_bw()
}

#' @rdname plots
#' @export
plotPCACells <- function(sce, colour.by = NULL, components = c(1, 2), name = "PCA", ...) {
    .needGgplot2("plotPCACells")
    pcs <- .reducedDimOf(sce, name, "plotPCACells")
    if (!is.numeric(components) || length(components) != 2L || anyNA(components) ||
        any(components < 1 | components > ncol(pcs) | components != round(components)))
        stop(sprintf("plotPCACells(): components must be two whole numbers in 1..%d", ncol(pcs)),
             call. = FALSE)
    components <- as.integer(components)
    colour <- .cellColours(sce, colour.by)
    cells <- data.frame(cell = colnames(sce) %||% seq_len(ncol(sce)),
                        x = as.numeric(pcs[, components[1]]), y = as.numeric(pcs[, components[2]]))
    if (!is.null(colour)) cells$colour <- colour
    pv <- tryCatch(.percentVar(sce, name, "plotPCACells"), error = function(e) NULL)
    axis <- function(j) if (is.null(pv)) sprintf("PC%d", j) else sprintf("PC%d (%.1f%%)", j, pv[j])
    default_size <- if (nrow(cells) > 1e5) 0.1 else if (nrow(cells) > 1e4) 0.4 else 1
    point <- utils::modifyList(list(size = default_size, alpha = 0.7), list(...))
    if (!is.null(colour)) point$mapping <- ggplot2::aes(colour = .data$colour)
    p <- ggplot2::ggplot(cells, ggplot2::aes(x = .data$x, y = .data$y)) +
        do.call(ggplot2::geom_point, point) +
        ggplot2::labs(title = sprintf("%d cells on PC%d and PC%d", nrow(cells), components[1],
                                      components[2]),
                      x = axis(components[1]), y = axis(components[2]),
                      colour = if (is.character(colour.by) && length(colour.by) == 1L &&
                                   ncol(sce) != 1L) colour.by else "colour") +
        ggplot2::theme_bw()
    if (is.numeric(colour)) p <- p + ggplot2::scale_colour_viridis_c()
    p
}

# --- helpers ---------------------------------------------------------------

.needGgplot2 <- function(caller, available = requireNamespace("ggplot2", quietly = TRUE)) {
    if (!available)
        stop(caller, "() draws with the ggplot2 package, which is not installed: ",
             "install.packages(\"ggplot2\") (on Debian: apt-get install r-cran-ggplot2)",
             call. = FALSE)
}

# The per-cell columns qcMetrics writes that are worth a histogram: genes and
# counts per cell, then the subset and top-gene percentages.
.qcColumns <- function(columns) {
    c(intersect(c("n_genes_by_counts", "total_counts"), columns),
      grep("^pct_counts_", columns, value = TRUE))
}

.qcThresholds <- function(min.genes, max.genes, max.pct.mt) {
    given <- list(min.genes = min.genes, max.genes = max.genes, max.pct.mt = max.pct.mt)
    for (arg in names(given)) {
        v <- given[[arg]]
        if (!is.null(v) && (!is.numeric(v) || length(v) != 1L || is.na(v)))
            stop("plotQCMetrics(): ", arg, " must be one number or NULL", call. = FALSE)
    }
    metric <- c(min.genes = "n_genes_by_counts", max.genes = "n_genes_by_counts",
                max.pct.mt = "pct_counts_mt")
    used <- names(given)[!vapply(given, is.null, logical(1))]
    data.frame(metric = unname(metric[used]), threshold = used,
               value = as.numeric(unlist(given[used])))
}

# "genes per cell (n_genes_by_counts)" and so on: what the panel shows, and
# the column to look for.
.qcLabels <- function(metrics) {
    label <- ifelse(metrics == "n_genes_by_counts", "genes detected per cell",
             ifelse(metrics == "total_counts", "counts per cell",
             ifelse(grepl("^pct_counts_in_top_[0-9]+_genes$", metrics),
                    sub("^pct_counts_in_top_([0-9]+)_genes$", "% of counts in the top \\1 genes", metrics),
             ifelse(grepl("^pct_counts_", metrics),
                    sub("^pct_counts_", "% of counts in ", metrics), metrics))))
    # Wrapped, so that three or four panels side by side keep whole titles.
    wrapped <- vapply(label, function(l) paste(strwrap(l, 24), collapse = "\n"), "")
    stats::setNames(sprintf("%s\n(%s)", wrapped, metrics), metrics)
}

# How many cells the thresholds keep; NaN percentages (cells without counts)
# count as failing.
.qcKeptLine <- function(cd, min.genes, max.genes, max.pct.mt) {
    n <- nrow(cd)
    if (is.null(min.genes) && is.null(max.genes) && is.null(max.pct.mt))
        return(sprintf("%d cells", n))
    keep <- rep(TRUE, n)
    if (!is.null(min.genes)) keep <- keep & cd$n_genes_by_counts >= min.genes
    if (!is.null(max.genes)) keep <- keep & cd$n_genes_by_counts <= max.genes
    if (!is.null(max.pct.mt)) keep <- keep & cd$pct_counts_mt <= max.pct.mt
    keep <- keep & !is.na(keep)
    sprintf("%d cells; the dashed thresholds keep %d (%.1f%%)", n, sum(keep), 100 * sum(keep) / max(n, 1))
}

.hvgMeanLabel <- function(flavor) {
    switch(flavor,
           cell_ranger = "mean of log-normalised expression",
           seurat = "log(1 + mean of normalised expression)",
           "mean count (log scale)")
}

.hvgSpreadLabel <- function(column) {
    c(dispersions_norm = "normalised dispersion", dispersions = "dispersion (variance / mean)",
      variances_norm = "normalised variance", variances = "variance")[[column]]
}

.reducedDimOf <- function(sce, name, caller) {
    if (!name %in% reducedDimNames(sce))
        stop(sprintf("%s(): no reducedDim named \"%s\" (%s): run computePCA(sce) first", caller, name,
                     if (length(reducedDimNames(sce))) paste("there are:", paste(reducedDimNames(sce),
                                                                                collapse = ", ")) else
                         "there are none"), call. = FALSE)
    reducedDim(sce, name)
}

# percentVar from the reducedDim's attribute; subsetting the cells of an
# object drops that attribute, so fall back on metadata(sce)[[name]].
.percentVar <- function(sce, name, caller) {
    pv <- attr(.reducedDimOf(sce, name, caller), "percentVar")
    if (is.null(pv) && !is.null(metadata(sce)[[name]]$variance_ratio))
        pv <- 100 * metadata(sce)[[name]]$variance_ratio
    if (is.null(pv))
        stop(sprintf("%s(): reducedDim(sce, \"%s\") has no percentVar attribute (computePCA writes it)",
                     caller, name), call. = FALSE)
    as.numeric(pv)
}

.cellColours <- function(sce, colour.by) {
    if (is.null(colour.by)) return(NULL)
    if (is.character(colour.by) && length(colour.by) == 1L && ncol(sce) != 1L) {
        if (!colour.by %in% names(colData(sce)))
            stop(sprintf("plotPCACells(): colData(sce) has no column \"%s\"", colour.by), call. = FALSE)
        colour.by <- colData(sce)[[colour.by]]
    }
    if (length(colour.by) != ncol(sce) || !is.null(dim(colour.by)))
        stop("plotPCACells(): colour.by must be a colData column name or one value per cell",
             call. = FALSE)
    if (is.logical(colour.by) || is.character(colour.by)) colour.by <- factor(colour.by)
    colour.by
}

.integerBreaks <- function(k) {
    step <- if (k <= 12) 1 else if (k <= 30) 2 else if (k <= 60) 5 else 10
    unique(c(1, seq(step, k, by = step)))
}
