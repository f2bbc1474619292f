// SPDX-License-Identifier: MIT
// Opens the shop's pipeline: the store, the sandbox gateway, the catalog.
'use strict';

const { Pipeline, migrate } = require('kbpipeline');
const catalog = require('./catalog');

async function open(config, publicUrl) {
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
