# The seed pipeline's steps against Seurat 4.3.0 on pbmc3k (reference files
# made with Debian's Seurat from the same matrix.mtx.gz).

ref_dir <- function(...) shared_data("pbmc3k", "reference_seurat_4.3.0", ...)
read_ref <- function(file) {
    path <- ref_dir(file)
    utils::read.csv(if (grepl("\\.gz$", path)) gzfile(path) else path, stringsAsFactors = FALSE)
}

for (cfg_name in names(device_configs())) {
    cfg <- device_configs()[[cfg_name]]

    test_that(paste("pbmc3k QC, filter, log-normalisation, scaling and PCA match Seurat:", cfg_name), {
        skip_without_shared_data("pbmc3k", "reference_seurat_4.3.0")
        sce <- read10xMtx(shared_data("pbmc3k"), devices = cfg$devices,
                          shards = if (identical(cfg$shards, "uneven")) 3 else NULL)
        sce <- qcMetrics(sce, subsets = list(mt = grepl("^MT-", rownames(sce))))

        qc <- read_ref("qc_per_cell_2700.csv")
        expect_identical(colnames(sce), qc[[1]])
        expect_identical(sce$total_counts, as.numeric(qc$nCount_RNA))
        expect_identical(sce$n_genes_by_counts, as.integer(qc$nFeature_RNA))
        expect_equal(sce$pct_counts_mt, qc$percent.mt, tolerance = 1e-12)

        keep <- sce$n_genes_by_counts > 200 & sce$n_genes_by_counts < 2500 & sce$pct_counts_mt < 5
        sce <- sce[, keep]
        expect_identical(colnames(sce), read_ref("cells_kept_tutorial_filter.csv")$barcode)

        sce <- log1pTransform(normalizeTotal(sce, target.sum = 1e4))
        cs <- read_ref("lognorm_colsums_2638.csv")
        expect_lt(max(abs(colSums(logcounts(sce)) - cs$colsum_lognorm) / cs$colsum_lognorm), 1e-6)
        rm <- read_ref("lognorm_rowmeans_2638.csv.gz")
        mine <- rowMeans(logcounts(sce))[rm$gene]
        nz <- rm$rowmean_lognorm > 0
        expect_lt(max(abs(mine[nz] - rm$rowmean_lognorm[nz]) / rm$rowmean_lognorm[nz]), 1e-6)
        expect_true(all(mine[!nz] == 0))

        # Seurat's ScaleData clips only above (scale.max = 10)
        sce <- scaleGenes(sce, max.value = 10, min.value = -Inf)
        st <- read_ref("scaledata_rowstats_2000vst.csv")
        sc <- as.matrix(assay(sce, "scaled")[st$gene, ])
        expect_equal(unname(rowMeans(sc)), st$scaled_rowmean, tolerance = 1e-5)
        expect_equal(unname(apply(sc, 1, stats::sd)), st$scaled_rowsd, tolerance = 1e-5)
        expect_equal(unname(apply(sc, 1, max)), st$scaled_max, tolerance = 1e-5)
        expect_equal(unname(apply(sc, 1, min)), st$scaled_min, tolerance = 1e-5)

        sce <- computePCA(sce, ncomponents = 30, subset.row = st$gene)
        pcs <- reducedDim(sce, "PCA")
        sdev <- read_ref("pca_exact_prcomp_sdev_all.csv")$sdev
        emb <- read_ref("pca_exact_prcomp_embeddings.csv.gz")
        emb <- as.matrix(emb[match(colnames(sce), emb[[1]]), -1])
        mine_sd <- sqrt(attr(pcs, "varExplained"))
        expect_lt(max(abs(mine_sd - sdev[1:30]) / sdev[1:30]), 1e-4)
        separated <- (sdev[1:30] - sdev[2:31]) / sdev[1:30] > 0.01
        cors <- vapply(1:30, function(k) abs(stats::cor(pcs[, k], emb[, k])), numeric(1))
        expect_true(all(cors[separated] >= 0.9999), info = paste(round(cors, 6), collapse = " "))
        expect_equal(sum(attr(pcs, "percentVar")), 100 * sum(sdev[1:30]^2) / sum(sdev^2), tolerance = 1e-4)
        rot <- attr(pcs, "rotation")
        expect_true(all(apply(rot, 2, function(v) v[which.max(abs(v))] > 0)))
    })
}
