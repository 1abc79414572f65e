/* @@io (being written) */
