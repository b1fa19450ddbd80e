# highlyVariableGenes() end to end on the devices against scanpy's own
# reference outputs (see ../shared/data/README.md).

for (cfg_name in names(device_configs())) {
    cfg <- device_configs()[[cfg_name]]
    shards <- if (identical(cfg$shards, "uneven")) 3 else NULL

    test_that(paste("pbmc68k_reduced cell_ranger and seurat match scanpy:", cfg_name), {
        skip_without_shared_data("pbmc68k_reduced", "reference")
        sce <- read10xMtx(shared_data("pbmc68k_reduced", "raw_X_lognorm"), devices = cfg$devices,
                          shards = shards)
        sce <- qcMetrics(sce)
        sce <- sce[, sce$total_counts >= 1]
        sce <- log1pTransform(normalizeTotal(sce, target.sum = 1e4))
        ref_dir <- shared_data("pbmc68k_reduced", "reference")

        cr <- highlyVariableGenes(sce, n.top = 100, flavor = "cell_ranger")
        ref <- utils::read.csv(file.path(ref_dir, "cell_ranger_hvg.csv"), row.names = 1)
        rd <- SummarizedExperiment::rowData(cr)[rownames(ref), ]
        expect_identical(rd$highly_variable, ref$highly_variable == "True")
        for (col in c("means", "dispersions", "dispersions_norm"))
            expect_true(isTRUE(all.equal(rd[[col]], ref[[col]], tolerance = 2e-5)) ||
                        all(abs(rd[[col]] - ref[[col]]) <= 2e-5 + 2e-5 * abs(ref[[col]]), na.rm = TRUE),
                        info = col)

        se <- highlyVariableGenes(sce, n.top = NULL, flavor = "seurat", min.mean = 0.0125,
                                  max.mean = 3, min.disp = 0.5)
        ref <- utils::read.csv(file.path(ref_dir, "seurat_hvg.csv"), row.names = 1)
        rd <- SummarizedExperiment::rowData(se)[rownames(ref), ]
        expect_identical(rd$highly_variable, as.logical(ref$highly_variable))
        for (col in c("means", "dispersions", "dispersions_norm")) {
            ok <- is.finite(ref[[col]])
            expect_true(all(abs(rd[[col]][ok] - ref[[col]][ok]) <= 2e-5 + 2e-5 * abs(ref[[col]][ok])),
                        info = col)
        }
        sub <- highlyVariableGenes(sce, n.top = 100, flavor = "cell_ranger", subset = TRUE)
        expect_identical(rownames(sub), rownames(cr)[SummarizedExperiment::rowData(cr)$highly_variable])
        expect_s4_class(logcounts(sub), "CellshardMatrix")
    })

    test_that(paste("pbmc3k seurat_v3 and seurat_v3_paper with batches match the references:", cfg_name), {
        skip_without_shared_data("pbmc3k", "reference_scanpy")
        sce <- read10xMtx(shared_data("pbmc3k"), devices = cfg$devices, shards = shards)
        v3 <- highlyVariableGenes(sce, n.top = 1000, flavor = "seurat_v3")
        ref <- utils::read.csv(gzfile(shared_data("pbmc3k", "reference_scanpy", "seurat_hvg_v3.csv.gz")),
                               row.names = 1)
        rd <- SummarizedExperiment::rowData(v3)
        expect_lt(max(abs(rd$variances - ref$variance) / pmax(abs(ref$variance), 1)), 2e-5)
        expect_lt(max(abs(rd$variances_norm - ref$variance.standardized) /
                      pmax(abs(ref$variance.standardized), 1)), 2e-5)
        expect_identical(sum(rd$highly_variable), 1000L)
        top <- order(ref$variance.standardized, decreasing = TRUE)[1:1000]
        expect_gt(mean(rd$highly_variable[top]), 0.998)

        batch <- rep(1:5, c(500, 500, 500, 500, 700))
        paper <- highlyVariableGenes(sce, n.top = 2000, flavor = "seurat_v3_paper", batch = batch)
        ref_genes <- utils::read.csv(shared_data("pbmc3k", "reference_scanpy", "seurat_hvg_v3_batch.csv"))$x
        mine <- rownames(paper)[SummarizedExperiment::rowData(paper)$highly_variable]
        expect_length(mine, 2000)
        expect_gt(length(intersect(mine, ref_genes)) / 2000, 0.95)
    })
}

test_that("highlyVariableGenes refuses bad input clearly", {
    m <- random_counts(50, 40, seed = 31)
    sce <- toDevice(SingleCellExperiment::SingleCellExperiment(list(counts = m)), devices = "cpu")
    sce <- log1pTransform(normalizeTotal(sce))
    expect_warning(highlyVariableGenes(sce, n.top = 80), "larger than the number of genes")
    expect_error(highlyVariableGenes(sce, flavor = "seurat_v3", n.top = NULL), "need n.top")
    expect_error(highlyVariableGenes(sce, n.top = 10, batch = rep(1, 3)), "one non-missing label per cell")
    expect_error(highlyVariableGenes(sce, flavor = "nope"), "should be one of")
    b <- highlyVariableGenes(sce, n.top = 10, batch = rep(c("a", "b"), 20))
    expect_true(all(c("highly_variable_nbatches", "highly_variable_intersection") %in%
                    names(SummarizedExperiment::rowData(b))))
})
