// SPDX-License-Identifier: MIT
// Responses and request bodies: the headers every page gets, and forms
// read with a size limit so a client cannot make the shop buffer megabytes.
'use strict';

const FORM_MAX_BYTES = 8192;

/**
 * A refusal with a page to show: status, a title and a sentence for the
 * visitor, or a whole page of its own.
 */
class HttpError extends Error {
  constructor(status, title, detail, page = null) {
    super(detail ?? title);
    this.status = status;
    this.title = title;
    this.page = page;
  }
}

const badRequest = (detail) => new HttpError(400, 'Bad request', detail);

const SECURITY_HEADERS = {
  // Scripts and styles are files under /static: no inline code to inject into.
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
    "frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // The callback URL carries the gateway's data: no page passes it on.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, ...headers });
  res.end(body);
}

function sendHtml(res, status, markup, headers) {
  send(res, status, 'text/html; charset=utf-8', String(markup), headers);
}

function sendJson(res, status, value) {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
}

/** 303: the browser follows with a GET, so a reload never repeats a POST. */
function redirect(res, location) {
  res.writeHead(303, { ...SECURITY_HEADERS, location });
  res.end();
}

/** The urlencoded body of a POST, as a URLSearchParams. */
async function readForm(req) {
  const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new HttpError(415, 'Unsupported form', 'Send the form as application/x-www-form-urlencoded.');
  }
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > FORM_MAX_BYTES) throw new HttpError(413, 'Form too large', 'The form is larger than this shop accepts.');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

module.exports = { HttpError, badRequest, send, sendHtml, sendJson, redirect, readForm };
