/* @@data (being written) */
