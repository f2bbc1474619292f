// SPDX-License-Identifier: MIT
// The HTTP server with its limits: a client that sends its headers or its
// request slowly is cut off (408), and connections are capped in all and
// per peer address, so slow clients cannot hold every connection.
'use strict';

const http = require('node:http');

// How often Node looks for requests past their timeouts: a fraction of the
// shortest, so a connection is closed soon after its deadline.
function checkingIntervalMs(limits) {
  return Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4)));
}

/** limits: the settings' headersTimeoutMs, requestTimeoutMs, maxConnections, maxConnectionsPerClient. */
function createServer(limits) {
  const server = http.createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: checkingIntervalMs(limits),
  });
  server.maxConnections = limits.maxConnections;
  const open = new Map(); // peer address -> connections
  server.on('connection', (socket) => {
    const peer = socket.remoteAddress ?? 'unknown';
    const n = (open.get(peer) ?? 0) + 1;
    if (n > limits.maxConnectionsPerClient) {
      socket.destroy();
      return;
    }
    open.set(peer, n);
    socket.once('close', () => {
      const left = open.get(peer) - 1;
      if (left > 0) open.set(peer, left);
      else open.delete(peer);
    });
  });
  return server;
}

module.exports = { createServer };
