// SPDX-License-Identifier: MIT
// The shop's settings, all from the environment, checked before anything
// starts: a typo in a number must stop the shop, not run it with a default.
'use strict';

const path = require('node:path');

// Beside server.js, so the shop finds its orders again wherever it is started from.
const DATA_DIR = path.join(__dirname, '..', 'data');
const DATA_FILE = 'shop.db';

// Shorter tokens can be guessed through the login form.
const ADMIN_TOKEN_MIN = 16;

class ConfigError extends Error {}

function integer(env, name, fallback, min, max) {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  if (!/^[0-9]{1,15}$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

function httpUrl(env, name, fallback) {
  const text = env[name];
  if (text === undefined || text === '') return fallback;
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`${name} must be an http:// or https:// URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${name} must be an http:// or https:// URL`);
  }
  return url;
}

function adminToken(env) {
  const token = env.KBP_SHOP_ADMIN_TOKEN;
  if (token === undefined || token === '') return null;
  if (Buffer.byteLength(token) < ADMIN_TOKEN_MIN) {
    throw new ConfigError(`KBP_SHOP_ADMIN_TOKEN must be at least ${ADMIN_TOKEN_MIN} bytes`);
  }
  return token;
}

function load(env = process.env) {
  const port = integer(env, 'PORT', 8080, 0, 65535);
  const publicUrl = httpUrl(env, 'KBP_SHOP_PUBLIC_URL', null);
  const schema = env.KBP_SHOP_STORAGE_SCHEMA || null;
  if (schema !== null && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigError('KBP_SHOP_STORAGE_SCHEMA must be a lower-case SQL identifier');
  }
  const receiptUrl = httpUrl(env, 'KBP_SHOP_RECEIPT_URL', null);
  return {
    port,
    // Known only once listening when PORT is 0.
    publicUrl: publicUrl && publicUrl.origin,
    ...storage(env),
    schema,
    adminToken: adminToken(env),
    intentTtlMs: integer(env, 'KBP_SHOP_INTENT_TTL_MS', 0, 1000, 30 * 86400000),
    backoffUnitMs: integer(env, 'KBP_SHOP_BACKOFF_UNIT_MS', 0, 1, 86400000),
    workerThreads: integer(env, 'KBP_SHOP_WORKER_THREADS', 2, 1, 64),
    maintenanceMs: integer(env, 'KBP_SHOP_MAINTENANCE_MS', 30000, 100, 86400000),
    receiptUrl: receiptUrl && receiptUrl.href,
    receiptAttempts: integer(env, 'KBP_SHOP_RECEIPT_ATTEMPTS', 5, 1, 1000),
    ...limits(env),
  };
}

/**
 * The store: KBP_SHOP_STORAGE when set, else a SQLite file in the data
 * directory (dataFile; null when the store is not the shop's own file).
 */
function storage(env) {
  const chosen = env.KBP_SHOP_STORAGE || null;
  const dir = env.KBP_SHOP_DATA_DIR || null;
  // Either names where the data is: both would leave one of them silently unused.
  if (chosen && dir) throw new ConfigError('set KBP_SHOP_STORAGE or KBP_SHOP_DATA_DIR, not both');
  if (chosen) return { storage: chosen, dataFile: null };
  const dataFile = path.resolve(dir ?? DATA_DIR, DATA_FILE);
  return { storage: `sqlite:${dataFile}`, dataFile };
}

// What one client may hold or try: sessions, sign-in failures, connections, time.
function limits(env) {
  const headersTimeoutMs = integer(env, 'KBP_SHOP_HEADERS_TIMEOUT_MS', 10000, 100, 600000);
  const requestTimeoutMs = integer(env, 'KBP_SHOP_REQUEST_TIMEOUT_MS', 30000, 100, 3600000);
  // Node refuses to start a server whose headers may take longer than the whole request.
  if (requestTimeoutMs < headersTimeoutMs) {
    throw new ConfigError('KBP_SHOP_REQUEST_TIMEOUT_MS must be at least KBP_SHOP_HEADERS_TIMEOUT_MS');
  }
  return {
    sessionsMax: integer(env, 'KBP_SHOP_SESSIONS_MAX', 10000, 1, 10000000),
    sessionsPerClient: integer(env, 'KBP_SHOP_SESSIONS_PER_CLIENT', 50, 1, 10000000),
    trustedProxies: integer(env, 'KBP_SHOP_TRUSTED_PROXIES', 0, 0, 10),
    loginBackoff: {
      free: integer(env, 'KBP_SHOP_LOGIN_FREE_FAILURES', 5, 0, 1000),
      baseMs: integer(env, 'KBP_SHOP_LOGIN_BACKOFF_MS', 1000, 1, 3600000),
      maxMs: integer(env, 'KBP_SHOP_LOGIN_BACKOFF_MAX_MS', 900000, 1, 86400000),
    },
    headersTimeoutMs,
    requestTimeoutMs,
    bodyTimeoutMs: integer(env, 'KBP_SHOP_BODY_TIMEOUT_MS', 10000, 100, 3600000),
    maxConnections: integer(env, 'KBP_SHOP_MAX_CONNECTIONS', 1000, 1, 1000000),
    maxConnectionsPerClient: integer(env, 'KBP_SHOP_MAX_CONNECTIONS_PER_CLIENT', 50, 1, 1000000),
  };
}

module.exports = { load, ConfigError };
