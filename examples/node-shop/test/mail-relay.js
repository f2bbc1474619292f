// SPDX-License-Identifier: MIT
// A stand-in for the mail relay the shop posts receipts to, with an outage
// the test switches on and off.
'use strict';

const http = require('node:http');
const { once } = require('node:events');

async function startMailRelay() {
  const relay = { down: false, receipts: [], url: null };
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    if (relay.down) {
      res.writeHead(503).end();
      return;
    }
    relay.receipts.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    res.writeHead(202).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  relay.url = `http://127.0.0.1:${server.address().port}/send`;
  relay.close = () => new Promise((resolve) => server.close(resolve));
  return relay;
}

module.exports = { startMailRelay };
