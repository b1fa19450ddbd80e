# The synthetic atlas (../shared/docs/SYNTHETIC.md): the same seed gives the
# same matrix on every backend and sharding, its rows are well-formed counts,
# and its statistics match the document's targets.

atlas_as <- function(n.cells, config, ...) {
    shards <- if (identical(config$shards, "uneven")) uneven_shards(n.cells) else config$shards
    simulateAtlas(n.cells, devices = config$devices, shards = shards, verbose = FALSE, ...)
}

# The raw CSR arrays (cells x genes) of a device-backed assay.
csr_of <- function(sce) cellshard:::cs_to_csc(counts(sce)@seed@handle)

test_that("Philox4x32-10 gives the published known answers (Random123 kat_vectors)", {
    philox <- cellshard:::cs_philox4x32
    expect_identical(philox(c(0, 0, 0, 0), c(0, 0)),
                     c(0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8))
    expect_identical(philox(rep(2^32 - 1, 4), rep(2^32 - 1, 2)),
                     c(0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd))
    expect_identical(philox(c(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344),
                            c(0xa4093822, 0x299f31d0)),
                     c(0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1))
})

# The reference: one shard on the CPU. Default genes (the GPU histogram at its
# real size) and an odd number of genes (the last 16-bit half-word unused).
for (genes in c(45854L, 2001L)) {
    ref <- atlas_as(400, list(devices = "cpu", shards = NULL), n.genes = genes, seed = 7L)
    ref_counts <- as(counts(ref), "dgCMatrix")
    for (cfg_name in names(device_configs())) {
        cfg <- device_configs()[[cfg_name]]
        test_that(sprintf("same seed, same atlas (%d genes): %s", genes, cfg_name), {
            sce <- atlas_as(400, cfg, n.genes = genes, seed = 7L)
            expect_identical(as(counts(sce), "dgCMatrix"), ref_counts)
            expect_identical(colData(sce), colData(ref))
            expect_identical(dimnames(sce), dimnames(ref))
            lay <- deviceLayout(counts(sce))
            expect_equal(sum(lay$cells), 400)
            if (identical(cfg$shards, "uneven")) expect_equal(lay$cells, uneven_shards(400))
        })
    }
}

test_that("a larger atlas starts with the same cells; another seed gives another atlas", {
    a <- simulateAtlas(300, n.genes = 3000L, seed = 11L, devices = "cpu", verbose = FALSE)
    b <- simulateAtlas(500, n.genes = 3000L, seed = 11L, devices = "cpu", shards = 4,
                       verbose = FALSE)
    c <- simulateAtlas(300, n.genes = 3000L, seed = 12L, devices = "cpu", verbose = FALSE)
    ma <- as(counts(a), "dgCMatrix")
    expect_identical(ma, as(counts(b), "dgCMatrix")[, 1:300])
    expect_identical(a$library_size, b$library_size[1:300])
    mc <- as(counts(c), "dgCMatrix")
    expect_false(identical(ma, mc))
    expect_false(identical(a$library_size, c$library_size))
    # hardly any cell agrees
    expect_lt(mean(Matrix::colSums(ma != mc) == 0), 0.01)
})

test_that("rows are whole counts on sorted genes, adding up to the library size", {
    for (cfg_name in names(device_configs())) {
        sce <- atlas_as(600, device_configs()[[cfg_name]], n.genes = 5000L, seed = 3L)
        parts <- csr_of(sce)
        n_row <- diff(parts$p)
        row <- rep(seq_along(n_row), n_row)
        # within a row, gene numbers strictly increase
        same_row <- row[-1] == row[-length(row)]
        expect_true(all(diff(parts$i)[same_row] > 0), info = cfg_name)
        expect_true(all(parts$i >= 0 & parts$i < 5000), info = cfg_name)
        expect_true(all(parts$x >= 1 & parts$x == round(parts$x)), info = cfg_name)
        expect_identical(as.integer(rowsum(parts$x, row)[, 1]), sce$library_size, info = cfg_name)
        expect_equal(unname(colSums(counts(sce))), as.numeric(sce$library_size), info = cfg_name)
        expect_true(validObject(as(counts(sce), "dgCMatrix")))
    }
})

test_that("names, colData and metadata follow the documented layout", {
    sce <- simulateAtlas(50, n.genes = 100L, n.types = 3L, seed = 5L, devices = "cpu",
                         verbose = FALSE)
    mt <- c("MT-ND1", "MT-ND2", "MT-CO1", "MT-CO2", "MT-ATP8", "MT-ATP6", "MT-CO3",
            "MT-ND3", "MT-ND4L", "MT-ND4", "MT-ND5", "MT-ND6", "MT-CYB")
    expect_identical(dim(sce), c(100L, 50L))
    expect_identical(rownames(sce)[grepl("^MT-", rownames(sce))], mt)
    expect_identical(rownames(sce)[1:2], c("GENE00001", "GENE00002"))
    # MT genes replace GENE names at their own positions
    expect_identical(rownames(sce)[!grepl("^MT-", rownames(sce))],
                     sprintf("GENE%05d", seq_len(100))[!grepl("^MT-", rownames(sce))])
    expect_identical(colnames(sce)[c(1, 50)], c("CELL0000001", "CELL0000050"))
    expect_identical(names(colData(sce)), c("cell_type", "damaged", "library_size"))
    expect_identical(levels(sce$cell_type), c("type01", "type02", "type03"))
    expect_type(sce$damaged, "logical")
    expect_type(sce$library_size, "integer")
    expect_true(all(sce$library_size >= 300 & sce$library_size <= 60000))
    meta <- metadata(sce)$synthetic
    for (key in c("seed", "n.types", "sigma", "target.detected", "cells", "genes", "nnz",
                  "mean.detected"))
        expect_true(key %in% names(meta), info = key)
    expect_identical(meta$seed, 5)
    expect_identical(meta$n.types, 3)
    expect_identical(meta$nnz, as.numeric(Matrix::nnzero(as(counts(sce), "dgCMatrix"))))
    expect_equal(meta$mean.detected, meta$nnz / 50)
    expect_message(simulateAtlas(20, n.genes = 100L, seed = 5L, devices = "cpu", verbose = TRUE),
                   "detected genes per cell")
    expect_s4_class(counts(sce), "CellshardMatrix")
})

test_that("a released synthetic atlas says how to make it again", {
    sce <- simulateAtlas(20, n.genes = 100L, seed = 5L, devices = "cpu", verbose = FALSE)
    releaseDevice(sce)
    expect_error(as(counts(sce), "dgCMatrix"), "simulateAtlas\\(20, n.genes = 100, seed = 5",
                 class = "cellshard_stale_handle")
})

test_that("bad arguments give clear errors", {
    expect_error(simulateAtlas(0, devices = "cpu"), "n.cells must lie in 1")
    expect_error(simulateAtlas(-5, devices = "cpu"), "n.cells must lie in 1")
    expect_error(simulateAtlas(NA, devices = "cpu"), "n.cells must be a single whole number")
    expect_error(simulateAtlas(2.5, devices = "cpu"), "n.cells must be a single whole number")
    expect_error(simulateAtlas(c(10, 20), devices = "cpu"), "n.cells must be a single whole number")
    expect_error(simulateAtlas("10", devices = "cpu"), "n.cells must be a single whole number")
    expect_error(simulateAtlas(10, n.genes = 13, devices = "cpu"), "n.genes must lie in 14.*mitochondrial")
    expect_error(simulateAtlas(10, n.genes = NA_integer_, devices = "cpu"), "n.genes must be a single whole")
    expect_error(simulateAtlas(10, n.genes = 100.5, devices = "cpu"), "n.genes must be a single whole")
    expect_error(simulateAtlas(10, seed = NA, devices = "cpu"), "seed must be a single whole number")
    expect_error(simulateAtlas(10, seed = 0.5, devices = "cpu"), "seed must be a single whole number")
    expect_error(simulateAtlas(10, n.types = 0, devices = "cpu"), "n.types must lie in 1..1000")
    expect_error(simulateAtlas(10, n.types = 1001, devices = "cpu"), "n.types must lie in 1..1000")
    expect_error(simulateAtlas(10, n.genes = 100, devices = "cpu", shards = c(3, 3)),
                 "add up to 6 cells, but the atlas has 10")
    expect_error(simulateAtlas(3, n.genes = 100, devices = "cpu", shards = 5),
                 "each shard needs at least one cell")
    # negative seeds are seeds too
    expect_s4_class(simulateAtlas(5, n.genes = 100, seed = -3, devices = "cpu", verbose = FALSE),
                    "SingleCellExperiment")
})

# Statistics of 3,000 cells with the default genes, against SYNTHETIC.md's targets.
test_that("the atlas has the documented statistics", {
    sce <- simulateAtlas(3000, seed = 1L, devices = "cpu", verbose = FALSE)
    m <- as(counts(sce), "dgCMatrix")
    detected <- Matrix::colSums(m > 0)
    total <- Matrix::colSums(m)
    # about 2,000 detected genes per cell
    expect_gt(mean(detected), 2000 * 0.85)
    expect_lt(mean(detected), 2000 * 1.15)
    # mitochondrial genes: about 3% of UMIs, more in a damaged 2% of cells
    mt <- grepl("^MT-", rownames(m))
    frac <- Matrix::colSums(m[mt, ]) / total
    expect_gt(mean(frac[!sce$damaged]), 0.02)
    expect_lt(mean(frac[!sce$damaged]), 0.045)
    expect_gt(mean(frac[sce$damaged]), 0.14)
    expect_lt(mean(frac[sce$damaged]), 0.21)
    expect_gt(min(frac[sce$damaged]), max(0.1, quantile(frac[!sce$damaged], 0.999)))
    expect_gt(mean(sce$damaged), 0.012)
    expect_lt(mean(sce$damaged), 0.03)
    # library sizes: LogNormal(log(5000), 0.6), clipped to [300, 60000]
    expect_gt(median(sce$library_size), 4700)
    expect_lt(median(sce$library_size), 5300)
    expect_equal(sd(log(sce$library_size)), 0.6, tolerance = 0.05)
    expect_true(all(sce$library_size >= 300 & sce$library_size <= 60000))
    # cell types uniform over 24
    expect_identical(nlevels(sce$cell_type), 24L)
    expect_gt(stats::chisq.test(table(sce$cell_type))$p.value, 1e-4)
    # a tenth of the genes is (nearly) never detected: a gene seen in fewer than
    # 10 cells per million shows in 3,000 cells with probability under 3%. At this
    # size the low tail of the log-normal abundances adds more undetected genes
    # (about as many again); at a million cells they are seen (GPU test below).
    never <- mean(Matrix::rowSums(m) == 0)
    expect_gt(never, 0.095)
    expect_lt(never, 0.3)
})

test_that("at a million cells, about a tenth of the genes is seen in fewer than 10 per million", {
    skip_without_gpu()
    if (nzchar(Sys.getenv("CELLSHARD_UNDER_SANITIZER"))) skip("too large for compute-sanitizer")
    if (deviceMemory(0L)$free < 24 * 2^30) skip("needs 24 GiB of free GPU memory")
    sce <- simulateAtlas(1.1e6, seed = 1L, devices = 0L, verbose = FALSE)
    expect_gt(metadata(sce)$synthetic$nnz, 2^31)  # beyond 32-bit offsets
    expect_equal(metadata(sce)$synthetic$mean.detected, 2000, tolerance = 0.05)
    sce <- qcMetrics(sce)
    rare <- mean(rowData(sce)$n_cells_by_counts < 11)
    expect_gt(rare, 0.09)
    expect_lt(rare, 0.13)
    expect_equal(sce$total_counts, as.numeric(sce$library_size))
    releaseDevice(sce)
})

test_that("a GPU refuses more genes than its shared memory holds, before any work", {
    skip_without_gpu()
    expect_error(simulateAtlas(10, n.genes = 200000L, devices = 0L, verbose = FALSE),
                 "shared memory per thread block.*devices = \"cpu\"")
})
