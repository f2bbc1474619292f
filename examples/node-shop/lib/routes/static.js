// SPDX-License-Identifier: MIT
// The stylesheet and the two scripts, read once; a fixed list, so no path
// from a request ever reaches the file system.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { send } = require('../web/http');

const FILES = {
  'style.css': 'text/css; charset=utf-8',
  'order-status.js': 'text/javascript; charset=utf-8',
  'admin-live.js': 'text/javascript; charset=utf-8',
};

function routes(router) {
  for (const [name, type] of Object.entries(FILES)) {
    const body = fs.readFileSync(path.join(__dirname, '..', '..', 'public', name));
    router.get(`/static/${name}`, ({ res }) => send(res, 200, type, body, { 'cache-control': 'max-age=300' }));
  }
}

module.exports = { routes };
