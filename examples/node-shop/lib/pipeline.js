// SPDX-License-Identifier: MIT
// Opens the shop's pipeline: the store, the sandbox gateway, the catalog.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');
const { Pipeline, migrate } = require('kbpipeline');
const { ConfigError } = require('./config');
const catalog = require('./catalog');

// The store holds customers' carts and orders: only the shop's user may read it.
function makeDataDir(dataFile) {
  const dir = path.dirname(dataFile);
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    const why = err.code === 'EEXIST' ? 'a file of that name is in the way' : util.getSystemErrorMap().get(err.errno)?.[1];
    throw new ConfigError(`cannot create the data directory ${dir} (KBP_SHOP_DATA_DIR): ${why ?? err.code}`);
  }
}

async function open(config, publicUrl) {
  if (config.dataFile) makeDataDir(config.dataFile);
  if (config.storage !== 'memory:') await migrate(config.storage, config.schema);
  const p = new Pipeline({
    storage: config.storage,
    storageSchema: config.schema,
    intentTtlMs: config.intentTtlMs,
    backoffUnitMs: config.backoffUnitMs,
  });
  try {
    // Intents redirect to `${baseUrl}/pay?ref=…`, the page lib/routes/sandbox.js serves.
    p.addSandboxGateway({ baseUrl: `${publicUrl}/sandbox` });
    await catalog.seed(p);
  } catch (err) {
    await p.close();
    throw err;
  }
  return p;
}

module.exports = { open };
