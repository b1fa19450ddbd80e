# Two runs of the seed pipeline on the same cells, computed with the cells
# split differently (MPI ranks, shards streamed out of core): per-cell results
# are computed cell by cell and must be identical; per-gene sums add the parts
# in another order, so they are equal up to rounding.
expect_same_pipeline <- function(got, ref) {
    expect_identical(colnames(got), colnames(ref))
    expect_identical(rownames(got), rownames(ref))
    expect_identical(as.data.frame(colData(got)), as.data.frame(colData(ref)))
    rd_got <- as.data.frame(rowData(got)); rd_ref <- as.data.frame(rowData(ref))
    expect_identical(rd_got$highly_variable, rd_ref$highly_variable)
    expect_identical(rd_got$n_cells_by_counts, rd_ref$n_cells_by_counts)
    expect_equal(rd_got, rd_ref, tolerance = 1e-10)
    pcs <- reducedDim(got, "PCA"); ref_pcs <- reducedDim(ref, "PCA")
    expect_equal(attr(pcs, "rotation"), attr(ref_pcs, "rotation"), tolerance = 1e-8)
    expect_equal(attr(pcs, "percentVar"), attr(ref_pcs, "percentVar"), tolerance = 1e-10)
    expect_equal(pcs, ref_pcs, tolerance = 1e-8)
}
