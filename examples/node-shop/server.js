// SPDX-License-Identifier: MIT
// A web shop over the kbpipeline Node package: catalog, cart, checkout
// through the sandbox gateway, a status page that waits for the order, and
// admin pages for the job queue. Settings come from the environment (see
// README.md beside this file); with none it keeps its data in the SQLite
// file data/shop.db beside this file:
//     NODE_PATH=<the staged kbpipeline package> node server.js
'use strict';

const config = require('./lib/config');
const pipeline = require('./lib/pipeline');
const receipts = require('./lib/receipts');
const maintenance = require('./lib/maintenance');
const { WorkerControl } = require('./lib/worker-control');
const { createShop } = require('./lib/app');
const { createServer } = require('./lib/web/server');

function log(message) {
  console.log(`${new Date().toISOString()} ${message}`);
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
}

function storageNote(settings) {
  if (settings.dataFile) return `, kept in ${settings.dataFile}`;
  return settings.storage === 'memory:' ? ' (nothing is kept after exit)' : '';
}

async function main() {
  const settings = config.load();
  const server = createServer(settings);
  await listen(server, settings.port);
  const url = settings.publicUrl ?? `http://127.0.0.1:${server.address().port}`;

  const p = await pipeline.open(settings, url);
  receipts.register(p, { relayUrl: settings.receiptUrl, log });
  const worker = new WorkerControl(p, settings.workerThreads);
  await worker.resume();
  const stopMaintenance = maintenance.start(p, settings.maintenanceMs, log);

  server.on('request', createShop({ p, config: settings, log, worker, url }));

  // The storage URI may hold a password: only the backend's name is printed,
  // and the path of the shop's own file, which holds none.
  log(`storage: ${p.storageName}${storageNote(settings)}`);
  log(settings.adminToken ? 'admin pages: sign in at /admin with KBP_SHOP_ADMIN_TOKEN'
    : 'admin pages: disabled (set KBP_SHOP_ADMIN_TOKEN to enable them)');
  log(`receipts: ${settings.receiptUrl ? 'posted to the mail relay (KBP_SHOP_RECEIPT_URL)' : 'written to this log'}`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    stopMaintenance();
    server.close();
    server.closeAllConnections();
    await worker.pause();
    await p.close();
    log('stopped');
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  // Last: whoever waits for this line may stop the shop the moment it reads it.
  log(`node-shop listening on ${url}/`);
}

main().catch((err) => {
  const reason = err instanceof config.ConfigError ? err.message : `${err.code ?? err.name}: ${err.message}`;
  console.error(`node-shop: cannot start: ${reason}`);
  process.exit(1);
});
