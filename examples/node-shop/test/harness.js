// SPDX-License-Identifier: MIT
// Starts the shop as a child process on a free port with its output
// captured, each on a store of its own, launches Debian's chromium, and
// saves screenshots.
'use strict';

const { spawn } = require('node:child_process');
const { once } = require('node:events');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const CHROMIUM = process.env.KBP_CHROMIUM || '/usr/bin/chromium';
const SERVER = path.join(__dirname, '..', 'server.js');
const SCREENSHOTS = process.env.KBP_SHOP_SCREENSHOTS || path.join(os.tmpdir(), 'node-shop-screenshots');
const START_TIMEOUT_MS = 15000;
// run-tests.sh names a fresh directory under the build directory and removes it after the run.
const DATA_ROOT = process.env.KBP_SHOP_TEST_DATA || os.tmpdir();

const newToken = () => crypto.randomBytes(24).toString('hex');

/** A new, empty data directory (KBP_SHOP_DATA_DIR); removeDataDir() removes it. */
function newDataDir() {
  return fs.mkdtempSync(path.join(DATA_ROOT, 'shop-'));
}

function removeDataDir(dir) {
  fs.rmSync(dir, { recursive: true, force: true });
}

/**
 * The shop with `env` on top of a clean environment: no KBP_SHOP_* leaks in
 * from the caller. Unless env names the store, the shop keeps its default
 * store, a SQLite file, in a data directory of its own that stop() removes:
 * no test sees another's carts, orders or jobs.
 */
async function startShop(env = {}) {
  const own = env.KBP_SHOP_STORAGE || env.KBP_SHOP_DATA_DIR ? null : newDataDir();
  try {
    return await spawnShop({ ...(own ? { KBP_SHOP_DATA_DIR: own } : {}), ...env }, own);
  } catch (err) {
    if (own) removeDataDir(own);
    throw err;
  }
}

async function spawnShop(env, own) {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KBP_SHOP_')));
  const child = spawn(process.execPath, [SERVER], {
    env: { ...base, PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const exited = once(child, 'exit');

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the shop did not start in time:\n${output}`)), START_TIMEOUT_MS);
    const check = () => {
      const m = /node-shop listening on (http:\/\/[^\s/]+)\//.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', check);
    exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`the shop exited (${code}) before listening:\n${output}`));
    });
  });

  return {
    url,
    output: () => output,
    /**
     * Stops it as an operator would (SIGTERM); resolves to the exit code, or
     * to the name of the signal that ended it (a crash says which).
     */
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const [code, signal] = await exited;
      if (own) removeDataDir(own);
      return code ?? signal;
    },
  };
}

async function launchBrowser() {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`no chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium)`);
  }
  // Required here: the tests that need no browser run without playwright-core.
  const { chromium } = require('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true });
}

async function screenshot(page, name) {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Resolves when check() returns a truthy value (which it resolves to); fails after timeoutMs. */
async function waitFor(what, check, timeoutMs = 10000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

module.exports = { startShop, newDataDir, removeDataDir, launchBrowser, screenshot, waitFor, newToken };
