/* ======================================================================================== */
/* @@LINALG  double precision: symmetric eigensolver (and an internal matrix product)      */
/* ======================================================================================== */
/* Eigenvalues w (n), ascending, and, if v != NULL, orthonormal eigenvectors: column j of the
   row-major (n, n) v (v[i * n + j]) belongs to w[j]. Only the lower triangle of the row-major
   (n, n) matrix a is read; a is not modified. Householder tridiagonalisation, then implicit QL
   with Wilkinson shifts; the matrix is scaled by its largest entry first. Errors: NG_ERR_ARG
   (n < 1, NULL pointers, a non-finite entry), NG_ERR_NOMEM, NG_ERR_FORMAT if QL fails to
   converge (30 iterations for one eigenvalue; not seen in practice). */
ng_status ng_linalg_eigh(int64_t n, const double *a, double *w, double *v);

