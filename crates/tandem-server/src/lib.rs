//! The tandem binary: config, adapter registry, HTTP server, supervision.
