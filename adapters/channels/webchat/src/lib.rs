//! Web chat channel: the browser widget over a WebSocket.
