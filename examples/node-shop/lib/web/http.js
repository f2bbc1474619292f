// SPDX-License-Identifier: MIT
// Responses and request bodies: the headers every page gets, and forms
// read with a size limit and a deadline, so a client can neither make the
// shop buffer megabytes nor hold a connection by sending them slowly.
'use strict';

const FORM_MAX_BYTES = 8192;

/**
 * A refusal with a page to show: status, a title and a sentence for the
 * visitor, or a whole page of its own; headers go with the response.
 */
class HttpError extends Error {
  constructor(status, title, detail, page = null, headers = {}) {
    super(detail ?? title);
    this.status = status;
    this.title = title;
    this.page = page;
    this.headers = headers;
  }
}

// The rest of such a body is not read: the connection ends with the answer.
const CLOSE = { connection: 'close' };

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

function sendJson(res, status, value, headers) {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), headers);
}

/** 303: the browser follows with a GET, so a reload never repeats a POST. */
function redirect(res, location) {
  res.writeHead(303, { ...SECURITY_HEADERS, location });
  res.end();
}

/** The urlencoded body of a POST, as a URLSearchParams, if it arrives within timeoutMs. */
function readForm(req, timeoutMs) {
  const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    return Promise.reject(new HttpError(415, 'Unsupported form', 'Send the form as application/x-www-form-urlencoded.',
      null, CLOSE));
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    const done = (err) => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', done);
      if (err) reject(err);
      else resolve(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    };
    const onData = (chunk) => {
      size += chunk.length;
      if (size > FORM_MAX_BYTES) {
        done(new HttpError(413, 'Form too large', 'The form is larger than this shop accepts.', null, CLOSE));
      } else {
        chunks.push(chunk);
      }
    };
    const onEnd = () => done(null);
    const timer = setTimeout(() => done(new HttpError(408, 'Too slow',
      'The form did not arrive in time. Try again.', null, CLOSE)), timeoutMs);
    req.on('data', onData).on('end', onEnd).on('error', done);
  });
}

module.exports = { HttpError, badRequest, send, sendHtml, sendJson, redirect, readForm };
