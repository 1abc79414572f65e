/* @@models (being written) */
