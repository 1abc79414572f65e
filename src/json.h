/* ======================================================================================== */
/* @@JSON  internal: a growable string builder and a strict JSON lexer                      */
/* ======================================================================================== */
/* No public API: the static helpers in json.c (ng__sb_*, ng__json_*) serve the JSON readers
   and writers of later parts (GAN genotypes, TextNAS architectures). */
