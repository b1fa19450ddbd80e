# Cell names whose subsets copy no strings (src/r_names.cpp), and the one-step
# column updates of the verbs (.withColumns). The references are plain R
# vectors and R's own column-by-column assignment.

lazy <- function(x) cellshard:::cs_lazy_names(x)
state <- function(x) cellshard:::cs_names_state(x)

test_that("lazy cell names equal the plain vector under subsetting, copies and saveRDS", {
    ref <- sprintf("CELL%04d", 1:500)
    x <- lazy(ref)
    expect_true(state(x)[["lazy"]])
    expect_identical(x, ref)
    for (i in list(2:3, c(500, 1), -1, c(TRUE, FALSE), 0, 501, c(2, NA), integer(0), 3.7,
                   c(10L, 10L, 1L)))
        expect_identical(x[i], ref[i])
    sub <- x[c(400L, 7L, 123L, 7L)]
    expect_true(state(sub)[["lazy"]])              # positions only, no plain copy
    expect_false(state(sub)[["plain_copy"]])
    expect_identical(sub[c(4, 1)], ref[c(400L, 7L, 123L, 7L)][c(4, 1)])
    y <- sub
    y[2] <- "changed"                                # copy on modify: sub keeps its values
    expect_identical(sub, ref[c(400L, 7L, 123L, 7L)])
    expect_identical(y, replace(ref[c(400L, 7L, 123L, 7L)], 2, "changed"))
    f <- tempfile(fileext = ".rds")
    saveRDS(sub, f)
    back <- readRDS(f)
    expect_identical(back, ref[c(400L, 7L, 123L, 7L)])
    expect_false(state(back)[["lazy"]])
    expect_identical(match(c("CELL0123", "CELL9999"), sub), match(c("CELL0123", "CELL9999"), ref[c(400L, 7L, 123L, 7L)]))
    expect_identical(sort(sub), sort(ref[c(400L, 7L, 123L, 7L)]))
    expect_identical(unique(sub), unique(ref[c(400L, 7L, 123L, 7L)]))
    expect_identical(paste0(sub, "-1"), paste0(ref[c(400L, 7L, 123L, 7L)], "-1"))
    expect_identical(nchar(x), nchar(ref))
    expect_identical(c(sub, "x"), c(ref[c(400L, 7L, 123L, 7L)], "x"))
})

test_that("lazy cell names keep their strings alive through garbage collections", {
    ref <- sprintf("cell_%d_%s", 1:50, "x")
    x <- lazy(ref)[30:10]
    rm(ref)
    gctorture(TRUE)
    joined <- paste(x, collapse = ",")
    gctorture(FALSE)
    expect_identical(joined, paste(sprintf("cell_%d_%s", 30:10, "x"), collapse = ","))
})

test_that("names with attributes stay plain; NA and other encodings read as they were", {
    named <- c(a = "x", b = "y")
    expect_identical(lazy(named), named)
    expect_false(state(lazy(named))[["lazy"]])
    odd <- c("caf\u00e9", NA, "")
    x <- lazy(odd)
    expect_identical(x, odd)
    expect_identical(x[c(3, 2, 1)], odd[c(3, 2, 1)])
    expect_identical(Encoding(x), Encoding(odd))
    expect_identical(lazy(x), x)
})

test_that("a filtered SingleCellExperiment keeps lazy cell names in colData and the assay", {
    sce <- simulateAtlas(2000, n.genes = 300, seed = 3, devices = "cpu", verbose = FALSE)
    ref <- sprintf("CELL%07d", 1:2000)
    expect_identical(colnames(sce), ref)
    expect_true(state(colnames(sce))[["lazy"]])
    q <- qcMetrics(sce)
    keep <- as.vector(q$n_genes_by_counts >= median(q$n_genes_by_counts))
    f <- q[, keep]
    for (names in list(colnames(f), rownames(colData(f)),
                       colnames(counts(f, withDimnames = FALSE)))) {
        expect_identical(names, ref[keep])
        expect_true(state(names)[["lazy"]])
        expect_false(state(names)[["plain_copy"]])
    }
    # Bioconductor code sees ordinary names
    both <- cbind(f[, 1:3], f[, 10:12])
    expect_identical(colnames(both), ref[keep][c(1:3, 10:12)])
    expect_identical(colnames(as.matrix(counts(f)[1:2, 4:5])), ref[keep][4:5])
    expect_identical(rownames(as.data.frame(colData(f)))[1:4], ref[keep][1:4])
    expect_identical(f[, ref[keep][c(9, 2)]]$total_counts[], q$total_counts[match(ref[keep][c(9, 2)], ref)])
    colnames(f)[1] <- "renamed"
    expect_identical(colnames(f), c("renamed", ref[keep][-1]))
})

test_that("one-step column updates equal R's column-by-column assignment", {
    df <- S4Vectors::DataFrame(a = 1:4, b = letters[1:4], row.names = sprintf("r%d", 1:4))
    cols <- list(c = c(0.5, 1, 2, 4), a = 4:1, d = c(TRUE, FALSE, NA, TRUE))
    ref <- df
    for (name in names(cols)) ref[[name]] <- cols[[name]]
    expect_identical(cellshard:::.withColumns(df, cols), ref)
    S4Vectors::mcols(df) <- S4Vectors::DataFrame(note = c("first", "second"))
    ref <- df
    for (name in names(cols)) ref[[name]] <- cols[[name]]
    expect_identical(cellshard:::.withColumns(df, cols), ref)
    sce <- simulateAtlas(500, n.genes = 100, seed = 4, devices = "cpu", verbose = FALSE)
    q <- qcMetrics(sce, subsets = list(mt = grepl("^MT-", rownames(sce))), percent.top = 20)
    m <- as(counts(sce), "dgCMatrix")
    expect_identical(names(colData(q)),
                     c("cell_type", "damaged", "library_size", "n_genes_by_counts", "total_counts",
                       "log1p_n_genes_by_counts", "log1p_total_counts", "total_counts_mt",
                       "pct_counts_mt", "log1p_total_counts_mt", "pct_counts_in_top_20_genes"))
    expect_identical(rowData(q)$total_counts, unname(as.numeric(Matrix::rowSums(m))))
    again <- qcMetrics(q)   # replaces its columns in place
    expect_identical(names(colData(again)), names(colData(q)))
    expect_identical(again$total_counts[], q$total_counts[])
})

test_that("simulateAtlas's per-cell columns in C++ memory read as the plain R columns", {
    sce <- simulateAtlas(1500, n.genes = 200, n.types = 5, seed = 8, devices = "cpu", verbose = FALSE)
    codes <- as.integer(sce$cell_type)
    type_names <- sprintf("type%02d", 1:5)
    # the factor that simulateAtlas built before: factor() over the type names
    expect_identical(sce$cell_type, factor(type_names[codes], levels = type_names))
    expect_identical(sce$library_size, as.integer(colSums(as(counts(sce), "dgCMatrix"))))
    expect_type(sce$damaged, "logical")
    keep <- seq(2, 1500, by = 3)
    f <- sce[, keep]
    expect_identical(f$cell_type, factor(type_names[codes[keep]], levels = type_names))
    expect_identical(f$library_size, sce$library_size[][keep])
    expect_identical(f$damaged, sce$damaged[][keep])
    path <- tempfile(fileext = ".rds")
    saveRDS(as.data.frame(colData(f)), path)
    back <- readRDS(path)
    expect_identical(back$cell_type, factor(type_names[codes[keep]], levels = type_names))
    expect_identical(rownames(back), sprintf("CELL%07d", keep))
    expect_identical(as.vector(table(f$cell_type)), tabulate(codes[keep], 5))
})
