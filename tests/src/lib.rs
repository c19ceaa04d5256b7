//! End-to-end tests: start the real tandem binary and talk to it over sockets.
