# The pictures show exactly the object's columns, draw their thresholds where
# asked, and never read an assay.
skip_if_not_installed("ggplot2")

bundled <- function() system.file("extdata", "tenx_v3_chr21.h5", package = "cellshard")

# The seed sequence on the bundled file, on the CPU backend. The file has no
# mitochondrial genes, so twenty genes stand in for them as subset "mt".
pipeline <- function(subset = FALSE, flavor = "cell_ranger") {
    sce <- read10xH5(bundled(), devices = "cpu")
    sce <- qcMetrics(sce, subsets = list(mt = 1:20), percent.top = 10)
    sce <- sce[rowData(sce)$n_cells_by_counts >= 3, sce$n_genes_by_counts >= 5]
    sce <- log1pTransform(normalizeTotal(sce))
    sce <- highlyVariableGenes(sce, n.top = 60, flavor = flavor, subset = subset)
    computePCA(scaleGenes(sce, max.value = 10), ncomponents = 12)
}

builds_quietly <- function(p) expect_no_warning(expect_no_error(ggplot2::ggplot_build(p)))

test_that("plotQCMetrics shows each QC column of every cell, one panel each", {
    sce <- pipeline()
    p <- plotQCMetrics(sce)
    metrics <- c("n_genes_by_counts", "total_counts", "pct_counts_mt", "pct_counts_in_top_10_genes")
    expect_s3_class(p, "ggplot")
    expect_identical(levels(p$data$metric), metrics)
    for (m in metrics) {
        shown <- p$data[p$data$metric == m, ]
        expect_identical(shown$cell, colnames(sce))
        expect_equal(shown$value, as.numeric(sce[[m]]))
    }
    expect_equal(nrow(p$layers[[2]]$layer_data(p$data)), 0)   # no threshold lines
    built <- ggplot2::ggplot_build(p)
    expect_equal(length(unique(built$data[[1]]$PANEL)), length(metrics))
    expect_equal(sum(built$data[[1]]$count), length(metrics) * ncol(sce))
    builds_quietly(p)
})

test_that("plotQCMetrics draws the thresholds on their panels and counts the kept cells", {
    sce <- read10xH5(bundled(), devices = "cpu")
    sce <- qcMetrics(sce, subsets = list(mt = 1:20))
    p <- plotQCMetrics(sce, min.genes = 5, max.genes = 50, max.pct.mt = 12.5)
    lines <- p$layers[[2]]$layer_data(p$data)
    expect_equal(lines$value, c(5, 50, 12.5))
    expect_equal(as.character(lines$metric), c("n_genes_by_counts", "n_genes_by_counts", "pct_counts_mt"))
    built <- ggplot2::ggplot_build(p)$data[[2]]
    panels <- ggplot2::ggplot_build(p)$layout$layout
    on_panel <- as.character(panels$metric[match(built$PANEL, panels$PANEL)])
    expect_equal(built$xintercept, c(5, 50, 12.5))
    expect_equal(on_panel, c("n_genes_by_counts", "n_genes_by_counts", "pct_counts_mt"))
    kept <- sum(sce$n_genes_by_counts >= 5 & sce$n_genes_by_counts <= 50 &
                sce$pct_counts_mt <= 12.5, na.rm = TRUE)
    expect_match(p$labels$subtitle, sprintf("keep %d ", kept), fixed = TRUE)
    expect_lt(kept, ncol(sce))
    builds_quietly(p)
    one <- plotQCMetrics(sce, max.genes = 40, metrics = "n_genes_by_counts", bins = 20)
    expect_equal(one$layers[[2]]$layer_data(one$data)$value, 40)
    expect_equal(nrow(ggplot2::ggplot_build(one)$data[[1]]), 20)
})

test_that("plotQCMetrics leaves out cells without counts and says what is missing", {
    sce <- qcMetrics(toDevice(SingleCellExperiment(list(counts = random_counts())), devices = "cpu"),
                     subsets = list(mt = 1:10))
    expect_true(any(is.nan(sce$pct_counts_mt)))                # cell 7 is empty
    p <- plotQCMetrics(sce, max.pct.mt = 30)
    builds_quietly(p)
    expect_match(p$labels$subtitle, sprintf("keep %d ", sum(sce$pct_counts_mt <= 30, na.rm = TRUE)),
                 fixed = TRUE)
    plain <- read10xH5(bundled(), devices = "cpu")
    expect_error(plotQCMetrics(plain), "no QC columns: run qcMetrics")
    expect_error(plotQCMetrics(qcMetrics(plain), max.pct.mt = 10),
                 "pct_counts_mt.*subsets = list\\(mt")
    expect_error(plotQCMetrics(qcMetrics(plain), metrics = "pct_counts_ribo"), "no column pct_counts_ribo")
    expect_error(plotQCMetrics(qcMetrics(plain), min.genes = "5"), "min.genes must be one number")
})

test_that("plotHighlyVariableGenes highlights exactly the selected genes", {
    sce <- pipeline()
    rd <- rowData(sce)
    p <- plotHighlyVariableGenes(sce)
    expect_identical(p$data$gene, rownames(sce))
    expect_equal(p$data$mean, rd$means)
    expect_equal(p$data$dispersion, rd$dispersions_norm)
    highlighted <- p$layers[[2]]$layer_data(p$data)$gene
    expect_setequal(highlighted, rownames(sce)[rd$highly_variable])
    expect_length(intersect(p$layers[[1]]$layer_data(p$data)$gene, highlighted), 0)
    expect_match(p$labels$subtitle, sprintf("^%d of %d genes selected", sum(rd$highly_variable), nrow(sce)))
    expect_match(p$labels$y, "normalised dispersion")
    built <- ggplot2::ggplot_build(p)
    expect_equal(unique(built$data[[2]]$colour), "firebrick")
    expect_equal(nrow(built$data[[2]]), sum(rd$highly_variable))
    builds_quietly(p)
})

test_that("plotHighlyVariableGenes shows the normalised variance of the seurat_v3 flavour", {
    sce <- pipeline(flavor = "seurat_v3")
    p <- plotHighlyVariableGenes(sce)
    expect_equal(p$data$dispersion, rowData(sce)$variances_norm)
    expect_match(p$labels$title, "seurat_v3")
    expect_setequal(p$layers[[2]]$layer_data(p$data)$gene, rownames(sce)[rowData(sce)$highly_variable])
    expect_true(any(vapply(p$scales$scales, function(s) "x" %in% s$aesthetics &&
                                                s$trans$name == "log-10", logical(1))))
    builds_quietly(p)
})

test_that("plotHighlyVariableGenes after subset = TRUE shows only selected genes", {
    sce <- pipeline(subset = TRUE)
    p <- plotHighlyVariableGenes(sce)
    expect_true(all(rowData(sce)$highly_variable))
    expect_equal(nrow(p$layers[[1]]$layer_data(p$data)), 0)
    expect_setequal(p$layers[[2]]$layer_data(p$data)$gene, rownames(sce))
    expect_match(p$labels$subtitle, sprintf("all %d genes", nrow(sce)))
    builds_quietly(p)
})

test_that("plotHighlyVariableGenes says when the statistics are missing", {
    sce <- read10xH5(bundled(), devices = "cpu")
    expect_error(plotHighlyVariableGenes(sce), "no highly-variable-gene statistics.*run highlyVariableGenes")
    rowData(sce)$means <- 1
    expect_error(plotHighlyVariableGenes(sce), "run highlyVariableGenes")
})

test_that("plotPCAVariance draws percentVar per component", {
    sce <- pipeline()
    pv <- attr(reducedDim(sce, "PCA"), "percentVar")
    p <- plotPCAVariance(sce)
    expect_equal(p$data$component, seq_along(pv))
    expect_equal(p$data$percentVar, pv)
    expect_match(p$labels$subtitle, sprintf("PC1-PC12 explain %.1f%%", sum(pv)), fixed = TRUE)
    expect_equal(plotPCAVariance(sce, n = 5)$data$percentVar, pv[1:5])
    expect_equal(ggplot2::ggplot_build(p)$data[[2]]$y, pv)
    builds_quietly(p)
    # Subsetting cells drops the attribute; metadata still has the ratios.
    sub <- sce[, 1:100]
    expect_null(attr(reducedDim(sub, "PCA"), "percentVar"))
    expect_equal(plotPCAVariance(sub)$data$percentVar, pv)
})

test_that("plotPCAVariance says what is missing", {
    sce <- read10xH5(bundled(), devices = "cpu")
    expect_error(plotPCAVariance(sce), "no reducedDim named \"PCA\".*run computePCA")
    reducedDim(sce, "PCA") <- matrix(0, ncol(sce), 2)
    expect_error(plotPCAVariance(sce), "no percentVar attribute")
    expect_error(plotPCAVariance(pipeline(), name = "UMAP"), "no reducedDim named \"UMAP\" \\(there are: PCA\\)")
    expect_error(plotPCAVariance(pipeline(), n = 0), "n must be a positive number")
})

test_that("plotPCACells places every cell at its PC coordinates, coloured by colData", {
    sce <- pipeline()
    pcs <- reducedDim(sce, "PCA")
    pv <- attr(pcs, "percentVar")
    p <- plotPCACells(sce, colour.by = "total_counts")
    expect_identical(p$data$cell, colnames(sce))
    expect_equal(p$data$x, unname(pcs[, 1]))
    expect_equal(p$data$y, unname(pcs[, 2]))
    expect_equal(p$data$colour, sce$total_counts)
    expect_equal(p$labels$x, sprintf("PC1 (%.1f%%)", pv[1]))
    expect_equal(p$labels$colour, "total_counts")
    builds_quietly(p)
    q <- plotPCACells(sce, colour.by = sce$n_genes_by_counts > 20, components = c(3, 2))
    expect_equal(q$data$x, unname(pcs[, 3]))
    expect_equal(q$data$y, unname(pcs[, 2]))
    expect_s3_class(q$data$colour, "factor")
    expect_equal(length(unique(ggplot2::ggplot_build(q)$data[[1]]$colour)), 2)
    plain <- plotPCACells(sce, size = 3)
    expect_null(plain$data$colour)
    expect_equal(plain$layers[[1]]$aes_params$size, 3)
    builds_quietly(plain)
})

test_that("plotPCACells says what is wrong with its arguments", {
    sce <- pipeline()
    expect_error(plotPCACells(sce, colour.by = "cell_type"), "no column \"cell_type\"")
    expect_error(plotPCACells(sce, colour.by = 1:3), "one value per cell")
    expect_error(plotPCACells(sce, components = c(1, 13)), "two whole numbers in 1..12")
    expect_error(plotPCACells(sce, components = 1), "two whole numbers")
    expect_error(plotPCACells(read10xH5(bundled(), devices = "cpu")), "run computePCA")
})

test_that("the plots read no assay: they work after the device data is released", {
    sce <- pipeline()
    releaseDevice(sce)
    expect_error(as.matrix(counts(sce)[1:2, 1:2]))                 # the assays are gone
    for (p in list(plotQCMetrics(sce, min.genes = 5, max.pct.mt = 20), plotHighlyVariableGenes(sce),
                   plotPCAVariance(sce), plotPCACells(sce, colour.by = "pct_counts_mt")))
        builds_quietly(p)
})

test_that("without ggplot2 the error names the package to install", {
    expect_error(cellshard:::.needGgplot2("plotPCACells", available = FALSE),
                 "plotPCACells\\(\\) draws with the ggplot2 package.*install.packages\\(\"ggplot2\"\\).*r-cran-ggplot2")
    expect_silent(cellshard:::.needGgplot2("plotPCACells", available = TRUE))
})
