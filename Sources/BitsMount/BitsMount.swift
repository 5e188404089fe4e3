// The read-only FUSE filesystem over the engine.
