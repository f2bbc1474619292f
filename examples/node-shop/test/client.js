// SPDX-License-Identifier: MIT
// A plain HTTP client for the tests that need what a browser cannot do:
// choose the address it connects from, send thousands of requests, keep
// its own cookies, or trickle bytes.
'use strict';

const http = require('node:http');
const net = require('node:net');

const ENTITIES = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };

/** One request; resolves to { status, headers, body } (body as text). */
function request(url, { method = 'GET', headers = {}, form = null, localAddress, agent } = {}) {
  const body = form && new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method, localAddress, agent,
      headers: body === null ? headers : { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

/** A browser's cookies and address, as far as the tests need them. */
class Visitor {
  cookies = new Map();

  constructor(base, localAddress) {
    this.base = base;
    this.localAddress = localAddress;
  }

  async send(path, options = {}) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await request(`${this.base}${path}`, {
      ...options, localAddress: this.localAddress, headers: { ...(cookie ? { cookie } : {}), ...options.headers },
    });
    for (const line of res.headers['set-cookie'] ?? []) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    return res;
  }

  get(path, options) {
    return this.send(path, options);
  }

  post(path, form, options) {
    return this.send(path, { ...options, method: 'POST', form });
  }
}

/** The first CSRF token in a page. */
function csrfOf(page) {
  const m = /name="csrf" value="([^"]+)"/.exec(page);
  if (!m) throw new Error('the page has no form token');
  return m[1];
}

/** The sentence of an error page. */
function errorOf(page) {
  const m = /<p class="error" data-status="[0-9]+">([^<]*)<\/p>/.exec(page);
  return m && m[1].replace(/&(amp|lt|gt|quot|#39);/g, (e) => ENTITIES[e]);
}

/**
 * Opens a connection from localAddress, writes `head`, then one byte of
 * `trickle` every everyMs; resolves to { closedAfterMs, answer } once the
 * shop closes it, or answer null if it is still open after giveUpMs.
 */
function trickle(port, localAddress, { head, trickle: slow = '', everyMs, giveUpMs }) {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let answer = '';
    let sent = 0;
    const timer = setInterval(() => {
      if (sent < slow.length && socket.writable) socket.write(slow[sent++]);
    }, everyMs);
    const giveUp = setTimeout(() => finish(null), giveUpMs);
    function finish(closedAfterMs) {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ closedAfterMs, answer });
    }
    socket.on('connect', () => socket.write(head));
    socket.on('data', (d) => { answer += d; });
    socket.on('error', () => {});
    socket.on('close', () => finish(Date.now() - started));
  });
}

module.exports = { request, Visitor, csrfOf, errorOf, trickle };
