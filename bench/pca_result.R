# Sourced by bench/pca_parts.R, pca_settings_ab.R and pca_budget.R: what a
# computePCA call computed, to 17 digits (the sum of its variances, of its
# loadings' magnitudes and of cell 1's scores' magnitudes), so that runs of
# different code or settings that should give the same bits print the same
# text. pcs: reducedDim(sce, "PCA", withDimnames = FALSE).
pca_result_line <- function(pcs) {
    sprintf("sum of variances %.17g, sum of |rotation| %.17g, sum of |scores| of cell 1 %.17g",
            sum(attr(pcs, "varExplained")), sum(abs(attr(pcs, "rotation"))), sum(abs(pcs[1, ])))
}
