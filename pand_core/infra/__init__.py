"""Small infrastructure: run folders, files, errors, paths, environment, devices, DDP, batching, logs, progress, seeds, the epoch meter."""
