/* @@optim (being written) */
